// Who may call each RPC of the payment service: other services of the mesh only. Buyers pay
// through checkout and admins see payments through the admin service, never directly.
import { PaymentService } from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { accessRules } from "../kit/auth.ts";

export const paymentAccessRules = [
  accessRules(PaymentService, {
    createPayment: "service",
    getPayment: "service",
    capturePayment: "service",
    cancelPayment: "service",
    refundPayment: "service",
    listPayments: "service",
  }),
];
