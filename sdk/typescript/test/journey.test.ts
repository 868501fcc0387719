/**
 * The README's "Lead to paid in two minutes", through the SDK, against a running local stage:
 * FIELDLINE_API (the stage, default http://127.0.0.1:8000) and FIELDLINE_STRIPE (its
 * localstripe, default http://127.0.0.1:8420). tests/e2e/test_typescript_sdk.py starts both
 * and runs this file; by hand: `make run`, then `npm test` in sdk/typescript.
 *
 * Written as a client developer would write it, under `tsc --strict`: a request field the
 * document marks required, or a response field it leaves untyped, fails the build.
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { createFieldline, expectOk, FieldlineError, type FieldlineClient } from "../src/index.js";

const API = process.env.FIELDLINE_API ?? "http://127.0.0.1:8000";
const STRIPE = process.env.FIELDLINE_STRIPE ?? "http://127.0.0.1:8420";
const CUSTOMER_PHONE = "+13125550142";
const TIMEZONE = "America/Chicago";

test("a job goes from a phone call to paid through the SDK", async () => {
  const anonymous = createFieldline({ baseUrl: API });

  // A business, its technician, a customer and a lead
  const tenant = expectOk(
    await anonymous.POST("/dev/tenants", {
      body: { name: "Acme Plumbing", timezone: TIMEZONE },
    }),
  );
  const office = createFieldline({ baseUrl: API, token: tenant.owner_token });
  const settings = expectOk(await office.PATCH("/settings", { body: { tax_rate_bps: 825 } }));
  assert.equal(settings.tax_rate_bps, 825);
  const tech = expectOk(
    await office.POST("/technicians", {
      body: {
        name: "Sam Rivera",
        phone: "312-555-0111",
        skills: ["plumbing"],
        shift: { days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], start: "07:00", end: "19:00" },
      },
    }),
  );
  const lead = expectOk(
    await office.POST("/leads", {
      body: {
        title: "Water heater leaking",
        customer: {
          name: "Dana Whitfield",
          phone: "312-555-0142",
          address: {
            line1: "1200 W Fulton St",
            city: "Chicago",
            region: "IL",
            postal_code: "60607",
            lat: 41.8868,
            lng: -87.6597,
          },
        },
      },
    }),
  );
  const job = { job_id: lead.id };

  // A quote with good / better / best, texted to the customer
  const labour = { description: "Labour", quantity: 2, unit_price_cents: 9500, taxable: false };
  const option = (name: string, description: string, unit_price_cents: number) => ({
    name,
    line_items: [labour, { description, quantity: 1, unit_price_cents, taxable: true }],
  });
  const quote = expectOk(
    await office.POST("/jobs/{job_id}/quotes", {
      params: { path: job },
      body: {
        deposit_percent: 0,
        options: [
          option("Good", "Repair valve", 4500),
          option("Better", "40 gal heater", 89900),
          option("Best", "Tankless heater", 219900),
        ],
      },
    }),
  );
  expectOk(
    await office.POST("/jobs/{job_id}/quotes/{quote_id}/send", {
      params: { path: { ...job, quote_id: quote.id } },
    }),
  );

  // The customer opens the texted link and approves "Better"
  const quoteToken = await linkToken(anonymous, "p/quotes/");
  const shown = expectOk(
    await anonymous.GET("/public/quotes/{token}", { params: { path: { token: quoteToken } } }),
  );
  const better = shown.options.find((o) => o.name === "Better");
  assert.ok(better, "the quote offers Better");
  const approved = expectOk(
    await anonymous.POST("/public/quotes/{token}/approve", {
      params: { path: { token: quoteToken } },
      body: { option_id: better.id, signed_by: "Dana Whitfield" },
    }),
  );
  assert.equal(approved.status, "approved");

  // A visit tomorrow at 9:00 Chicago time with Sam; Sam drives over, works, finishes
  const visit = expectOk(
    await office.POST("/jobs/{job_id}/visits", {
      params: { path: job },
      body: {
        window_start: tomorrowAt("09:00", TIMEZONE),
        window_end: tomorrowAt("11:00", TIMEZONE),
        duration_minutes: 90,
        technician_ids: [tech.id],
      },
    }),
  );
  const { token: samToken } = expectOk(
    await anonymous.POST("/dev/tokens", {
      body: { tenant_id: tenant.tenant_id, role: "technician", user_id: tech.id },
    }),
  );
  const sam = createFieldline({ baseUrl: API, token: samToken });
  const onVisit = { path: { ...job, visit_id: visit.id } };
  expectOk(
    await sam.POST("/jobs/{job_id}/visits/{visit_id}/status", {
      params: onVisit,
      body: { status: "en_route", location: { lat: 41.95, lng: -87.7 } },
    }),
  );
  assert.match((await latestText(anonymous)).body, /is on the way, arriving in about/);
  for (const status of ["on_site", "completed"] as const) {
    const reported = expectOk(
      await sam.POST("/jobs/{job_id}/visits/{visit_id}/status", { params: onVisit, body: { status } }),
    );
    assert.equal(reported.status, status);
  }

  // The final invoice, texted; the customer pays by card on localstripe (as Stripe.js would)
  const invoice = expectOk(
    await office.POST("/jobs/{job_id}/invoices", { params: { path: job }, body: { kind: "final" } }),
  );
  const sent = expectOk(
    await office.POST("/jobs/{job_id}/invoices/{invoice_id}/send", {
      params: { path: { ...job, invoice_id: invoice.id } },
    }),
  );
  // Better: 2 × 95.00 labour + 899.00 heater taxed at 8.25% (74.17)
  assert.equal(sent.total_cents, 19000 + 89900 + 7417);
  const invoiceToken = await linkToken(anonymous, "p/invoices/");
  const owed = expectOk(
    await anonymous.GET("/public/invoices/{token}", { params: { path: { token: invoiceToken } } }),
  );
  assert.ok(owed.payment_intent_id, "the invoice page has a payment intent");
  assert.equal(await payByCard(owed.payment_intent_id), "succeeded");

  // Paid (once localstripe's signed webhook arrives), and the whole story
  const paid = await jobOnceStage(office, job.job_id, "paid");
  assert.equal(paid.balance_cents, 0);
  const timeline = expectOk(
    await office.GET("/jobs/{job_id}/timeline", { params: { path: job, query: { limit: 200 } } }),
  );
  const story = timeline.items.map((event) => event.type);
  const milestones = [
    "LeadCreated",
    "QuoteSent",
    "QuoteApproved",
    "VisitScheduled",
    "TechnicianEnRoute",
    "TechnicianOnSite",
    "VisitCompleted",
    "InvoiceSent",
    "PaymentSucceeded",
    "InvoicePaid",
  ];
  const positions = milestones.map((name) => story.indexOf(name));
  assert.ok(!positions.includes(-1), `every milestone is on the timeline: ${story.join(", ")}`);
  assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
});

test("a change against a stale ETag is refused with the API's code", async () => {
  const anonymous = createFieldline({ baseUrl: API });
  const tenant = expectOk(await anonymous.POST("/dev/tenants", { body: { name: "Acme Plumbing" } }));
  const office = createFieldline({ baseUrl: API, token: tenant.owner_token });
  const lead = expectOk(
    await office.POST("/leads", {
      body: { title: "Drain slow", customer: { name: "Lee Park", phone: "312-555-0177" } },
    }),
  );
  const path = { job_id: lead.id };
  const read = await office.GET("/jobs/{job_id}", { params: { path } });
  const etag = read.response.headers.get("ETag");
  assert.ok(etag, "a versioned object answers with its ETag");

  const renamed = await office.PATCH("/jobs/{job_id}", {
    params: { path, header: { "If-Match": etag } },
    body: { title: "Drain blocked" },
  });
  assert.equal(expectOk(renamed).title, "Drain blocked");
  const stale = await office.PATCH("/jobs/{job_id}", {
    params: { path, header: { "If-Match": etag } },
    body: { title: "Drain fixed" },
  });
  assert.throws(
    () => expectOk(stale),
    (error: unknown) =>
      error instanceof FieldlineError && error.status === 409 && error.code === "version_conflict",
  );
});

/** The newest text to the customer (the local stage's outbox, newest first). */
async function latestText(api: FieldlineClient) {
  const outbox = expectOk(await api.GET("/dev/outbox", { params: { query: { to: CUSTOMER_PHONE } } }));
  const [newest] = outbox.items;
  assert.ok(newest, `a text to ${CUSTOMER_PHONE}`);
  return newest;
}

/** The token in the link of the newest text: ".../p/quotes/<token>" → "<token>". */
async function linkToken(api: FieldlineClient, prefix: string): Promise<string> {
  const { body } = await latestText(api);
  const token = body.split(prefix)[1]?.split(/\s/)[0];
  assert.ok(token, `a ${prefix} link in: ${body}`);
  return token;
}

/** RFC 3339 for tomorrow at `hhmm` on the wall clock of `timeZone`, with its UTC offset. */
function tomorrowAt(hhmm: string, timeZone: string): string {
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000);
  const day = new Intl.DateTimeFormat("en-CA", { timeZone }).format(tomorrow); // YYYY-MM-DD
  const offset = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" })
    .formatToParts(tomorrow)
    .find((part) => part.type === "timeZoneName")
    ?.value.replace("GMT", "");
  return `${day}T${hhmm}:00${offset || "+00:00"}`;
}

/** What Stripe.js does on the pay page: a card, attached to the intent, confirmed. */
async function payByCard(intent: string): Promise<string> {
  const card = await stripe("/v1/payment_methods", {
    type: "card",
    "card[number]": "4242424242424242",
    "card[exp_month]": "12",
    "card[exp_year]": "2034",
    "card[cvc]": "123",
  });
  await stripe(`/v1/payment_intents/${intent}`, { payment_method: String(card.id) });
  const confirmed = await stripe(`/v1/payment_intents/${intent}/confirm`, {});
  return String(confirmed.status);
}

async function stripe(path: string, form: Record<string, string>): Promise<Record<string, unknown>> {
  const response = await fetch(STRIPE + path, {
    method: "POST",
    headers: { Authorization: "Bearer sk_test_local" },
    body: new URLSearchParams(form),
  });
  assert.ok(response.ok, `${path}: ${response.status} ${await response.clone().text()}`);
  return (await response.json()) as Record<string, unknown>;
}

/** The job once it reaches `stage`: the payment's webhook arrives on its own time. */
async function jobOnceStage(api: FieldlineClient, job_id: string, stage: string) {
  for (let attempt = 0; attempt < 60; attempt++) {
    const job = expectOk(await api.GET("/jobs/{job_id}", { params: { path: { job_id } } }));
    if (job.stage === stage) {
      return job;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  assert.fail(`job ${job_id} never reached ${stage}`);
}
