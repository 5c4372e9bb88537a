// Usage: node first_trade.js <rtds ws url> <source wallet> [timeout ms]
// Connects the official @polymarket/real-time-data-client to the given host (its `host`
// option), subscribes to activity trades + orders_matched, prints "SUBSCRIBED", then the
// first activity payload of the source wallet as "TRADE <json>", and exits 0 (1 on timeout).
const { RealTimeDataClient } = require("@polymarket/real-time-data-client");

const [host, wallet, timeoutMs = "20000"] = process.argv.slice(2);
if (!host || !wallet) {
  console.error("usage: node first_trade.js <rtds url> <source wallet> [timeout ms]");
  process.exit(2);
}

const timer = setTimeout(() => {
  console.error("timed out waiting for a source trade");
  process.exit(1);
}, Number(timeoutMs));

const client = new RealTimeDataClient({
  host,
  onConnect: (c) => {
    c.subscribe({
      subscriptions: [
        { topic: "activity", type: "trades" },
        { topic: "activity", type: "orders_matched" },
      ],
    });
    console.log("SUBSCRIBED");
  },
  onMessage: (c, message) => {
    const p = message.payload || {};
    if (message.topic === "activity" && String(p.proxyWallet).toLowerCase() === wallet.toLowerCase()) {
      console.log("TRADE " + JSON.stringify({ type: message.type, timestamp: message.timestamp,
                                              connection_id: message.connection_id, payload: p }));
      clearTimeout(timer);
      c.disconnect();
      process.exit(0);
    }
  },
});
client.connect();
