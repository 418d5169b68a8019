// Live rates board: subscribes to the currency service's stream (Server-
// Sent Events through the gateway) and updates the rows in place. The
// browser reconnects by itself, sending Last-Event-ID, so no change is
// missed across a short outage.
const table = document.getElementById("board");
const live = document.getElementById("live");
const fmt = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function perUnit(v, unit) {
  if (v === null || v === undefined || v === "") return "";
  const n = Number(v) * unit;
  return Number.isFinite(n) ? fmt.format(n) : "";
}

function change(abs, pct, unit) {
  if (abs === null || abs === undefined) return "";
  const n = Number(abs) * unit;
  let s = fmt.format(n);
  if (n > 0) s = "+" + s;
  if (pct !== null && pct !== undefined) {
    const p = Number(pct);
    s += " (" + (p > 0 ? "+" : "") + p.toFixed(2) + "%)";
  }
  return s;
}

function setLive(on) {
  if (!live) return;
  live.hidden = false;
  live.classList.toggle("off", !on);
  live.textContent = on ? live.dataset.live : live.dataset.offline;
}

function apply(rate) {
  const row = table.querySelector('tr[data-code="' + rate.currency_code + '"]');
  if (!row || Number(rate.version) <= Number(row.dataset.version)) return;
  const unit = Number(row.dataset.unit) || 1;
  const set = (f, text) => {
    const cell = row.querySelector('[data-f="' + f + '"]');
    if (cell) cell.textContent = text;
  };
  set("deal_base_rate", perUnit(rate.deal_base_rate, unit));
  set("tts", perUnit(rate.tts, unit));
  set("ttb", perUnit(rate.ttb, unit));
  set("cash_buy", perUnit(rate.cash_buy, unit));
  set("cash_sell", perUnit(rate.cash_sell, unit));
  set("source", rate.source);
  set("rate_date", rate.rate_date + (rate.carried_over ? " (" + table.dataset.carried + ")" : ""));
  const chg = row.querySelector('[data-f="change"]');
  if (chg) {
    chg.textContent = change(rate.change, rate.change_percent, unit);
    const n = Number(rate.change);
    chg.classList.remove("up", "down", "flat");
    if (rate.change !== null && rate.change !== undefined) chg.classList.add(n > 0 ? "up" : n < 0 ? "down" : "flat");
  }
  row.dataset.version = String(rate.version);
  row.classList.remove("flash");
  void row.offsetWidth; // restart the highlight
  row.classList.add("flash");
}

function onEvent(e) {
  try {
    apply(JSON.parse(e.data));
  } catch {
    // A malformed event changes nothing.
  }
}

// connect opens the stream. The browser reconnects by itself after a
// dropped connection; an answer that is not a stream (a 503 while the
// service starts, a 502 while it restarts) closes it for good, so then a
// new one is opened after a growing pause. A new stream starts with every
// code's current rate, and rows only move forward by version.
let es = null;
let pause = 2000;
function connect() {
  es = new EventSource("/api/v1/currencies/stream?symbols=" + encodeURIComponent(table.dataset.symbols));
  es.addEventListener("open", () => {
    pause = 2000;
    setLive(true);
  });
  es.addEventListener("error", () => {
    setLive(false);
    if (es.readyState === EventSource.CLOSED) {
      setTimeout(connect, pause);
      pause = Math.min(pause * 2, 60000);
    }
  });
  es.addEventListener("message", onEvent);
  es.addEventListener("rate", onEvent);
}

if (table && table.dataset.symbols && "EventSource" in window) {
  connect();
  window.addEventListener("pagehide", () => es && es.close());
}
