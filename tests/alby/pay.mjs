// Pays an alsats server through an L402 client written by others: Alby's fetchWithL402.
//
//   node pay.mjs SERVER_URL WALLET_URL
//
// One paid call (POST /train: its 402 challenge is paid, the call repeated with the
// credential), then a free call (GET /session) with the credential Alby hands back. The
// wallet is the test's: payInvoice POSTs {"invoice"} to WALLET_URL, which pays with a
// Lightning node and answers {"preimage", "fees_paid"}. Prints one JSON line.
import { fetchWithL402 } from "@getalby/lightning-tools/402/l402";

const [server, walletUrl] = process.argv.slice(2);

const wallet = {
  async payInvoice({ invoice }) {
    const response = await fetch(walletUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ invoice }),
    });
    if (!response.ok) {
      throw new Error(`the wallet did not pay: ${await response.text()}`);
    }
    return response.json();
  },
};

async function seen(response) {
  return {
    status: response.status,
    body: await response.json(),
    paid: response.payment?.paid ?? null,
    amountSat: response.payment?.amountSat ?? null,
  };
}

const trained = await fetchWithL402(
  `${server}/train`,
  {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ x: [[0, 0], [1, 1]], y: [0, 1] }),
  },
  { wallet },
);
const train = await seen(trained);
const credentials = trained.payment?.credentials;
const session = credentials
  ? await seen(await fetchWithL402(`${server}/session`, {}, { wallet, credentials }))
  : null;
console.log(JSON.stringify({ train, session, credentials }));
