// EraseUser, the admin service's side: the tombstone and the audit trail here, then auth and
// order, each through an idempotent internal RPC (the handler calls them). No
// step undoes another, so a call that failed part-way (a service unavailable) is finished by
// calling again; the tombstone's complete_time says whether one did.
import { toJsonString } from "@bufbuild/protobuf";
import type { Kysely } from "kysely";
import { EraseUserRequestSchema, type EraseUserRequest } from "../../../gen/bazaar/admin/v1/admin_pb.ts";
import { inTransaction } from "../../kit/db.ts";
import { appendEvent } from "../../kit/events.ts";
import type { AdminDatabase } from "../db/database.ts";
import { recordErasure } from "../db/erasures.repository.ts";
import { forgetPersonalDataOf } from "./projections.ts";

/**
 * Remembers the user as erased and removes their personal data from the audit trail; the first
 * time, also audits the erasure (actor the admin, subject the user, the reason in the details).
 * Returns whether this was the first time.
 */
export async function startErasure(
  db: Kysely<AdminDatabase>,
  adminId: string,
  request: EraseUserRequest,
): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const first = await recordErasure(trx, request.id);
    await forgetPersonalDataOf(trx, request.id);
    if (first)
      await appendEvent(trx, {
        source: "admin",
        actorId: adminId,
        subjectId: request.id,
        payload: {
          case: "adminActionPerformed",
          value: {
            action: "EraseUser",
            targetType: "user",
            targetId: request.id,
            detailsJson: toJsonString(EraseUserRequestSchema, request),
          },
        },
      });
    return first;
  });
}
