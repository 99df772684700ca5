// Who may call each RPC of the payment service: other services of the mesh, except two doors
// that authenticate otherwise. HandleWebhook is public because the provider's signature is the
// authentication (the edge calls it without a token, from POST /v1/webhooks/{provider} only).
// TestCheckoutService is the test provider's hosted page: whoever holds the link may act on it,
// as on a real provider's test page; it is served only while the test provider is configured.
import { PaymentService, TestCheckoutService } from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { accessRules } from "../kit/auth.ts";

export const paymentAccessRules = [
  accessRules(PaymentService, {
    createPayment: "service",
    getPayment: "service",
    capturePayment: "service",
    cancelPayment: "service",
    refundPayment: "service",
    listPayments: "service",
    handleWebhook: "public",
  }),
  accessRules(TestCheckoutService, {
    getTestCheckout: "public",
    confirmTestCheckout: "public",
  }),
];
