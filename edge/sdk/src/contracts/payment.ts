// Messages and enums of bazaar.payment.v1 that AdminService answers with (Payment,
// PaymentStatus, …): `@bazaar/sdk/payment`. Its services are internal: the edge routes neither.
export * from "../../../../gen/bazaar/payment/v1/payment_pb.ts";
