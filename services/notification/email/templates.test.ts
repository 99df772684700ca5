import { describe, expect, it } from "vitest";
import { mailTemplates } from "./outbox.ts";
import { escapeHtml, formatMoney, orderReference, renderMail } from "./templates.ts";

const eur = (minor: number | string) => ({ currencyCode: "EUR", amountMinor: minor });

describe("formatMoney", () => {
  it("turns minor units into the currency's major units in the buyer's locale", () => {
    expect(formatMoney({ currencyCode: "USD", amountMinor: "123456" }, "en-US")).toBe("$1,234.56");
    expect(formatMoney(eur(199), "de-DE")).toBe("1,99\u00a0€");
    // Yen has no minor unit: 500 minor units are ¥500.
    expect(formatMoney({ currencyCode: "JPY", amountMinor: 500 }, "en-US")).toBe("¥500");
    expect(formatMoney({ currencyCode: "USD", amountMinor: "-5" }, "en-US")).toBe("-$0.05");
    // Beyond 2^53 minor units, exactly.
    expect(formatMoney({ currencyCode: "USD", amountMinor: "900719925474099312" }, "en-US")).toBe(
      "$9,007,199,254,740,993.12",
    );
    expect(formatMoney("12.00 EUR")).toBe("12.00 EUR");
  });

  it("when the currency is missing or no ISO code, then the minor units are shown as they came instead of failing the mail", () => {
    expect(formatMoney({ currencyCode: "", amountMinor: "500" })).toBe("500");
    expect(formatMoney({ currencyCode: "U$", amountMinor: 7 })).toBe("7 U$");
  });
});

describe("renderMail", () => {
  it("renders every template as text and HTML", () => {
    for (const template of mailTemplates) {
      const mail = renderMail(template, { displayName: "Ada", link: "http://shop.test/x", orderId: "o-1" });
      expect(mail.subject.length).toBeGreaterThan(5);
      expect(mail.text).toContain("Hello Ada,");
      expect(mail.html).toContain("<p>Hello Ada,</p>");
    }
  });

  it("lists order lines and totals in the buyer's currency", () => {
    const mail = renderMail("order-confirmation", {
      displayName: "Ada",
      orderId: "0193a1b2-c3d4-7000-8000-000000000001",
      locale: "de-DE",
      items: [
        { name: "Teapot", quantity: 2, unitPrice: eur(1999), lineTotal: eur(3998) },
        { name: "Cup", quantity: 1, unitPrice: eur(550), lineTotal: eur(550) },
      ],
      subtotal: eur(4548),
      shipping: eur(490),
      total: eur(5038),
      link: "http://shop.test/orders/0193a1b2",
    });
    // The storefront's reference: the id's last 8 characters (uuidv7s of one minute share the first).
    expect(mail.subject).toBe("Your Bazaar order #00000001 is confirmed");
    expect(mail.text).toContain("Teapot  2 × 19,99\u00a0€  39,98\u00a0€");
    expect(mail.text).toContain("Cup  1 × 5,50\u00a0€  5,50\u00a0€");
    expect(mail.text).toContain("Shipping  4,90\u00a0€");
    expect(mail.text).toContain("Total  50,38\u00a0€");
    expect(mail.text).toContain("View your order: http://shop.test/orders/0193a1b2");
    expect(mail.html).toContain("<tr><td>Teapot</td><td>2 × 19,99\u00a0€</td><td>39,98\u00a0€</td></tr>");
    expect(mail.html).toContain('<tr class="total"><td>Total</td><td></td><td>50,38\u00a0€</td></tr>');
  });

  it("shows tax and shipping as one row when only their sum is known", () => {
    const usd = (minor: number) => ({ currencyCode: "USD", amountMinor: minor });
    const mail = renderMail("order-confirmation", {
      orderId: "o-4",
      items: [{ name: "Kettle", quantity: 1, unitPrice: usd(900), lineTotal: usd(900) }],
      subtotal: usd(900),
      taxAndShipping: usd(671),
      total: usd(1571),
    });
    expect(mail.text).toContain("Subtotal  $9.00\nTax and shipping  $6.71\nTotal  $15.71\n");
  });

  it("names orders by their last 8 characters, so two orders of one minute differ", () => {
    expect(orderReference("0193a1b2-c3d4-7000-8000-0000000000aa")).toBe("#000000aa");
    expect(orderReference("0193a1b2-c3d4-7000-8000-0000000000bb")).toBe("#000000bb");
    expect(orderReference("")).toBe("");
  });

  it("shows the tracking number and URL of a shipment", () => {
    const mail = renderMail("order-shipped", {
      orderId: "o-2",
      carrier: "DHL",
      trackingNumber: "JJD0001",
      trackingUrl: "https://track.test/JJD0001",
    });
    expect(mail.text).toContain("Tracking number: DHL JJD0001");
    expect(mail.text).toContain("Track your parcel: https://track.test/JJD0001");
    expect(mail.html).toContain('<a href="https://track.test/JJD0001">Track your parcel</a>');
  });

  it("gives reset and verification links with their expiry", () => {
    const reset = renderMail("password-reset", {
      link: "http://shop.test/reset?token=abc&x=1",
      expireTime: "2026-12-04T18:30:00.000Z",
    });
    expect(reset.subject).toBe("Reset your Bazaar password");
    expect(reset.text).toContain("Choose a new password: http://shop.test/reset?token=abc&x=1");
    expect(reset.text).toMatch(/expires Dec 4, 2026, 6:30\sPM UTC/);
    expect(reset.html).toContain('href="http://shop.test/reset?token=abc&amp;x=1"');
    const verify = renderMail("email-verification", {
      link: "http://shop.test/verify?token=v",
      expireTime: "2026-12-05T08:00:00Z",
    });
    expect(verify.text).toContain("Confirm my e-mail address: http://shop.test/verify?token=v");
    expect(verify.text).toMatch(/expires Dec 5, 2026, 8:00\sAM UTC/);
  });

  it("escapes every value in the HTML part", () => {
    const mail = renderMail("payment-failed", {
      displayName: '<script>alert("x")</script>',
      orderId: "o-3",
      reason: "card <declined> & 'blocked'",
      link: 'http://shop.test/"><img src=x>',
    });
    expect(mail.html).not.toContain("<script>");
    expect(mail.html).not.toContain("<img");
    expect(mail.html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(mail.html).toContain("Reason: card &lt;declined&gt; &amp; &#39;blocked&#39;");
    expect(mail.text).toContain("Reason: card <declined> & 'blocked'");
    expect(escapeHtml(`&<>"'`)).toBe("&amp;&lt;&gt;&quot;&#39;");
  });

  it("tells a seller about a new order with its subtotal", () => {
    const mail = renderMail("seller-new-order", {
      displayName: "Shop owner",
      shopOrderId: "0193a1b2-c3d4-7000-8000-00005f0c9a1e",
      items: [{ name: "Teapot", quantity: 1, unitPrice: { currencyCode: "USD", amountMinor: "2500" } }],
      subtotal: { currencyCode: "USD", amountMinor: "2500" },
      link: "http://shop.test/seller/orders/0193a1b2-c3d4-7000-8000-00005f0c9a1e",
    });
    expect(mail.subject).toBe("New order #5f0c9a1e for your shop");
    // Without a line total the unit price stands for it.
    expect(mail.text).toContain("Teapot  1 × $25.00  $25.00");
    expect(mail.text).toContain("Subtotal  $25.00");
    expect(mail.text).toContain("Open the order: http://shop.test/seller/orders/0193a1b2-c3d4-7000-8000-00005f0c9a1e");
  });
});
