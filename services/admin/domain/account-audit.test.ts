// The audit trail's lines for auth's account-recovery events: who, what, and never a token or an
// e-mail (the events carry neither).
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EventSchema } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { summaryOf } from "./projections.ts";

const userId = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

describe("audit summaries of account actions", () => {
  it.each([
    ["passwordResetRequested", `user ${userId} asked for a password-reset link`],
    ["passwordChanged", `user ${userId} reset their password`],
    ["emailVerified", `user ${userId} confirmed their e-mail`],
  ] as const)("when auth emits %s, then the audit line names the user and the action", (kind, line) => {
    const event = create(EventSchema, {
      source: "auth",
      subjectId: userId,
      payload: { case: kind, value: { userId } },
    });
    expect(summaryOf(event)).toBe(line);
  });
});
