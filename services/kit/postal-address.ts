// A postal address as the services' domains keep it (shops, shipping): the fields of
// bazaar.common.v1.Address without the message wrapper, so it stores as plain JSON.
import type { Address } from "../../gen/bazaar/common/v1/common_pb.ts";

export interface PostalAddress {
  recipientName: string;
  line1: string;
  line2: string;
  city: string;
  region: string;
  postalCode: string;
  countryCode: string;
  phone: string;
}

export function postalAddressFromProto(address: Address): PostalAddress {
  const { recipientName, line1, line2, city, region, postalCode, countryCode, phone } = address;
  return { recipientName, line1, line2, city, region, postalCode, countryCode, phone };
}
