// Country search: suggestions while typing (the web app's /suggest), and
// choosing a country records a click in the ranking before its currency
// page opens. Links marked data-country anywhere on a page are choices too.
const form = document.getElementById("search-form");
const input = document.getElementById("q");
const list = document.getElementById("suggestions");
let items = [];
let active = -1;
let timer = 0;
let seq = 0;

// clientId lets the ranking tell repeated clicks of one browser apart
// from other people's (X-Client-Id); it is random and stays in this browser.
function clientId() {
  try {
    let id = localStorage.getItem("ratewire-client");
    if (!id) {
      id = crypto.randomUUID();
      localStorage.setItem("ratewire-client", id);
    }
    return id;
  } catch {
    return "";
  }
}

// choose records a click on country, then opens href. A refused or failed
// click (rate limit, ranking down) never stops the navigation.
export async function choose(country, href) {
  const headers = {};
  const id = clientId();
  if (id) headers["X-Client-Id"] = id;
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), 2000);
  try {
    await fetch("/api/v1/rankings/click?country=" + encodeURIComponent(country), {
      method: "POST", headers, keepalive: true, signal: ctl.signal,
    });
  } catch {
    // The page still opens; the click is simply not counted.
  } finally {
    clearTimeout(t);
  }
  location.href = href;
}

function render() {
  list.replaceChildren();
  if (!items.length) {
    list.hidden = true;
    return;
  }
  items.forEach((s, i) => {
    const li = document.createElement("li");
    li.setAttribute("role", "option");
    li.id = "sug-" + i;
    li.dataset.country = s.country_code;
    li.setAttribute("aria-selected", String(i === active));
    const main = document.createElement("span");
    main.textContent = s.name + " ";
    const sub = document.createElement("span");
    sub.className = "sub";
    sub.textContent = s.other_name + " · " + s.country_code + " · " + s.currency_code;
    li.append(main, sub);
    li.addEventListener("mousedown", (e) => {
      e.preventDefault();
      choose(s.country_code, s.href);
    });
    list.append(li);
  });
  list.hidden = false;
}

async function suggest() {
  const q = input.value.trim();
  const mine = ++seq;
  if (!q) {
    items = [];
    render();
    return;
  }
  try {
    const res = await fetch("/suggest?q=" + encodeURIComponent(q));
    if (!res.ok || mine !== seq) return;
    items = await res.json();
    active = items.length ? 0 : -1;
    render();
  } catch {
    // No suggestions; the form still submits.
  }
}

if (form && input && list) {
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(suggest, 120);
  });
  input.addEventListener("keydown", (e) => {
    if (list.hidden) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const n = items.length;
      active = (active + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
      render();
    } else if (e.key === "Escape") {
      list.hidden = true;
    }
  });
  input.addEventListener("blur", () => setTimeout(() => (list.hidden = true), 150));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!list.hidden && active >= 0 && items[active]) {
      choose(items[active].country_code, items[active].href);
      return;
    }
    const q = input.value.trim();
    if (!q) return;
    try {
      const res = await fetch("/api/v1/currencies/search?country=" + encodeURIComponent(q));
      if (res.ok) {
        const d = (await res.json()).data;
        choose(d.country_code, "/currency/" + d.currency_code + "?country=" + d.country_code);
        return;
      }
    } catch {
      // Fall through to the server-rendered answer, which explains.
    }
    location.href = "/search?q=" + encodeURIComponent(q);
  });
}

document.addEventListener("click", (e) => {
  const a = e.target.closest && e.target.closest("a[data-country]");
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  choose(a.dataset.country, a.getAttribute("href"));
});
