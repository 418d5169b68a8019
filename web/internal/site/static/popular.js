// Popular destinations: reloads the ranking from the gateway every few
// seconds (data-refresh ms) while the page is visible, without a reload.
const list = document.getElementById("popular");

function row(r, lang) {
  const li = document.createElement("li");
  li.dataset.country = r.country_code;
  const rank = document.createElement("span");
  rank.className = "rank";
  rank.textContent = String(r.rank);
  const a = document.createElement("a");
  a.dataset.country = r.country_code;
  a.href = "/currency/" + r.currency_code + "?country=" + r.country_code;
  a.textContent = lang === "en" ? r.country_name_en : r.country_name;
  const code = document.createElement("span");
  code.className = "code";
  code.textContent = r.currency_code;
  const clicks = document.createElement("span");
  clicks.className = "clicks";
  clicks.textContent = String(r.clicks);
  li.append(rank, " ", a, " ", code, " ", clicks);
  return li;
}

async function refresh() {
  if (document.hidden) return;
  try {
    const res = await fetch("/api/v1/rankings?period=" + encodeURIComponent(list.dataset.period) + "&limit=20");
    if (!res.ok) return;
    const data = (await res.json()).data;
    const rows = data.rankings.map((r) => row(r, list.dataset.lang));
    if (!rows.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = list.dataset.empty;
      rows.push(li);
    }
    list.replaceChildren(...rows);
    list.dataset.refreshed = String(Number(list.dataset.refreshed || 0) + 1);
  } catch {
    // Keep the list shown; the next refresh tries again.
  }
}

if (list) {
  const every = Math.max(1000, Number(list.dataset.refresh) || 30000);
  setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
}
