// Who may call each RPC of the admin service: admins, and nobody else.
import { AdminService } from "../../gen/bazaar/admin/v1/admin_pb.ts";
import { accessRules, type AccessRules } from "../kit/auth.ts";

export const adminAccessRules = [
  accessRules(
    AdminService,
    Object.fromEntries(AdminService.methods.map((m) => [m.localName, "admin"])) as AccessRules<typeof AdminService>,
  ),
];
