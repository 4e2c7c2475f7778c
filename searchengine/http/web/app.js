// The search page: plain JS, no build step, no external resources.
"use strict";

const $ = (id) => document.getElementById(id);
const results = $("results"), detail = $("detail"), status = $("status");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Text with the query terms' [start, end) spans wrapped in <mark>, built as DOM (never innerHTML).
function highlighted(text, spans) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const [a, b] of spans || []) {
    if (a < last) continue;
    frag.append(text.slice(last, a));
    frag.append(el("mark", {}, text.slice(a, b)));
    last = b;
  }
  frag.append(text.slice(last));
  return frag;
}

function fieldLabel(p) {
  if (p.field === "key_point") return "key point";
  if (p.field === "article") return "article";
  return "summary";
}

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || response.statusText);
  return data;
}

// The page's state lives in the URL's query string (`/?q=…&from=…`): a link reopens the
// same search, and the back button walks through searches and opened clusters.
const FIELDS = ["q", "from", "to", "source", "entity", "sentiment", "mode"];
const PAGE = 10;
let shown = PAGE;

// "Fresh first" is relevance x freshness with a 30-day half-life: a month-old story
// counts half, which keeps last week's news ahead without burying a strong older match.
const FRESH_HALF_LIFE = "30";

function params() {
  const p = new URLSearchParams();
  for (const key of FIELDS) {
    const value = $(key).value.trim();
    if (value && !(key === "mode" && value === "hybrid")) p.set(key, value);
  }
  if ($("kind-articles").checked) p.set("kind", "articles");
  if ($("order").value === "fresh") p.set("half_life_days", FRESH_HALF_LIFE);
  if ($("order").value === "date") p.set("sort", "date");
  if ($("collapse").checked) p.set("collapse", "true");
  return p;
}

function fill(p) {
  for (const key of FIELDS) $(key).value = p.get(key) || (key === "mode" ? "hybrid" : "");
  $("kind-articles").checked = p.get("kind") === "articles";
  $("order").value = p.get("sort") === "date" ? "date" : p.get("half_life_days") ? "fresh" : "relevance";
  $("collapse").checked = p.get("collapse") === "true";
  // Filters in use are shown, not hidden in a closed panel.
  if ([...p.keys()].some((k) => k !== "q")) $("filters").open = true;
}

function navigate(p) {
  history.pushState(null, "", p.toString() ? `/?${p}` : "/");
  route();
}

function rememberSources(hits) {
  const list = $("known-sources");
  const known = new Set([...list.options].map((o) => o.value));
  for (const hit of hits) for (const host of Object.keys(hit.sources || {})) {
    if (!known.has(host)) { known.add(host); list.append(el("option", { value: host })); }
  }
}

function clusterLink(id, text) {
  const a = el("a", { href: `/?cluster=${encodeURIComponent(id)}`, class: "open" }, text);
  a.addEventListener("click", (e) => {
    e.preventDefault();
    navigate(new URLSearchParams({ cluster: id }));
  });
  return a;
}

function renderHit(hit, rank) {
  const sources = Object.keys(hit.sources || {});
  const few = sources.slice(0, 3).join(", ") + (sources.length > 3 ? ` +${sources.length - 3}` : "");
  const item = el("li", { class: hit.weak ? "result weak" : "result", "data-id": hit.id },
    el("h2", {}, clusterLink(hit.cluster_id, hit.title)),
    el("div", { class: "meta" }, [hit.date, hit.publisher, few].filter(Boolean).join(" · ")));
  for (const p of hit.passages) {
    item.append(el("p", { class: "passage" }, el("span", { class: "field" }, fieldLabel(p)), highlighted(p.text, p.highlights)));
  }
  if (hit.more && hit.more.length) {
    // One result per story: the story's other hits, a click away.
    item.append(el("details", { class: "story-more" },
      el("summary", {}, `${hit.more.length} more from this story`),
      el("ul", {}, ...hit.more.map((m) => el("li", {}, el("span", { class: "when" }, m.date || "undated"), " ", clusterLink(m.cluster_id, m.title))))));
  }
  const like = el("a", { href: `/?like=${encodeURIComponent(hit.cluster_id)}`, class: "like-this" }, "More like this");
  like.addEventListener("click", (e) => { e.preventDefault(); navigate(new URLSearchParams({ like: hit.cluster_id })); });
  item.append(el("div", { class: "actions" }, like));
  // Ids and scores are for the curious, not in every reader's way.
  item.append(el("details", { class: "more" }, el("summary", {}, "details"),
    el("div", { class: "meta" }, `#${rank} · id ${hit.id} · relevance ${Math.round(hit.relevance * 100)}% · ranking score ${hit.score.toFixed(4)}`)));
  return item;
}

// Facets: counts over the search's strong hits; clicking one filters the search by it.
function refine(key, value) {
  $(key).value = value;
  shown = PAGE;
  navigate(params());
}

function chips(title, key, values) {
  if (!values.length) return null;
  return el("div", { class: "facet", "data-facet": key }, el("h3", {}, title),
    ...values.map((f) => {
      const b = el("button", { type: "button", class: "chip", "data-value": f.value }, f.value, " ", el("span", { class: "count" }, String(f.count)));
      b.addEventListener("click", () => refine(key, f.value));
      return b;
    }));
}

// Dates as a small SVG histogram: a bar per month (per day when the hits span two
// months or less); a bar's click limits the search to its month (or day).
function histogram(days) {
  if (!days.length) return null;
  const first = days[0].value, last = days[days.length - 1].value;
  const span = (Date.parse(last) - Date.parse(first)) / 864e5;
  const byDay = span <= 62;
  // Every day (or month) from the first to the last, empty ones included: a timeline.
  const bins = new Map();
  const cursor = new Date(`${first}T00:00:00Z`);
  const end = new Date(`${last}T00:00:00Z`);
  while (cursor <= end) {
    bins.set(cursor.toISOString().slice(0, byDay ? 10 : 7), 0);
    if (byDay) cursor.setUTCDate(cursor.getUTCDate() + 1);
    else cursor.setUTCMonth(cursor.getUTCMonth() + 1, 1);
  }
  for (const d of days) {
    const key = byDay ? d.value : d.value.slice(0, 7);
    bins.set(key, (bins.get(key) || 0) + d.count);
  }
  const entries = [...bins.entries()];
  const most = Math.max(...entries.map(([, n]) => n));
  const w = 14, gap = 3, h = 48;
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("width", String(entries.length * (w + gap)));
  svg.setAttribute("height", String(h + 2));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `hits per ${byDay ? "day" : "month"}`);
  entries.forEach(([key, n], i) => {
    if (!n) return;
    const bar = document.createElementNS(NS, "rect");
    const bh = Math.max(2, Math.round((n / most) * h));
    bar.setAttribute("x", String(i * (w + gap)));
    bar.setAttribute("y", String(h - bh));
    bar.setAttribute("width", String(w));
    bar.setAttribute("height", String(bh));
    bar.setAttribute("class", "bar");
    bar.setAttribute("data-value", key);
    const tip = document.createElementNS(NS, "title");
    tip.textContent = `${key}: ${n}`;
    bar.append(tip);
    bar.addEventListener("click", () => {
      if (byDay) { $("from").value = key; $("to").value = key; }
      else {
        const [y, m] = key.split("-").map(Number);
        $("from").value = `${key}-01`;
        $("to").value = `${key}-${String(new Date(y, m, 0).getDate()).padStart(2, "0")}`;
      }
      shown = PAGE;
      navigate(params());
    });
    svg.append(bar);
  });
  return el("div", { class: "facet", "data-facet": "dates" }, el("h3", {}, byDay ? "Days" : "Months"), svg,
    el("div", { class: "meta" }, `${entries[0][0]} – ${entries[entries.length - 1][0]}`));
}

async function showFacets(p) {
  const box = $("facets");
  box.replaceChildren();
  const ask = new URLSearchParams(p); ask.delete("k");
  try {
    const data = await getJSON(`/facets?${ask}`);
    const f = data.facets;
    const parts = [chips("Sources", "source", f.sources.slice(0, 8)), chips("Entities", "entity", f.entities.slice(0, 8)),
      chips("Sentiment", "sentiment", f.sentiment), histogram(f.dates)].filter(Boolean);
    // (an empty answer offers its own "clear filters" beside the reason: not twice)
    if (parts.length && [...p.keys()].some((k) => !["q", "mode", "kind"].includes(k))) {
      const clear = el("button", { type: "button", class: "link", id: "clear-filters" }, "clear filters");
      clear.addEventListener("click", clearFilters);
      parts.push(clear);
    }
    box.replaceChildren(...parts);
  } catch (err) {
    box.replaceChildren();
  }
}

// An empty answer under filters says which filter emptied it (the API's notes) and
// offers to clear them in one click.
const FILTER_KEYS = ["from", "to", "source", "entity", "sentiment"];
function clearFilters() {
  for (const key of FILTER_KEYS) $(key).value = "";
  navigate(params());
}
function explainEmpty(p, notes) {
  const parts = notes.map((n) => el("span", { class: "note" }, ` ${n[0].toUpperCase()}${n.slice(1)}.`));
  if (FILTER_KEYS.some((k) => p.get(k))) {
    const clear = el("button", { type: "button", class: "link", id: "clear-empty" }, "clear filters");
    clear.addEventListener("click", clearFilters);
    parts.push(" ", clear);
  }
  status.append(...parts);
}

// "Follow": save the search shown as an alert (POST /searches). Writes need the
// server's API key: asked once, kept for this tab only, as the Alerts view does.
function followButton(p) {
  const button = el("button", { type: "button", class: "link", id: "follow" }, "follow this search");
  button.addEventListener("click", () => follow(p, button));
  return button;
}
async function follow(p, button) {
  if (!sessionStorage.getItem(KEY)) {
    const input = el("input", { id: "follow-key", type: "password", autocomplete: "off", placeholder: "API key", "aria-label": "API key" });
    const form = el("form", { id: "follow-form", class: "key-form" }, "Following needs the server's API key: ", input, " ", el("button", { type: "submit" }, "Follow"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY, input.value.trim());
      form.replaceWith(button);
      follow(p, button);
    });
    button.replaceWith(form);
    return;
  }
  const body = { query: p.get("q") };
  for (const [key, name] of [["from", "from"], ["to", "to"], ["sentiment", "sentiment"]]) if (p.get(key)) body[name] = p.get(key);
  if (p.get("source")) body.sources = [p.get("source")];
  if (p.get("entity")) body.entities = [p.get("entity")];
  const said = el("span", { id: "followed", class: "meta" }, "saving…");
  button.replaceWith(said);
  const response = await fetch("/searches", { method: "POST", headers: { "content-type": "application/json", ...keyHeaders() }, body: JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) {
    sessionStorage.removeItem(KEY);
    said.replaceWith(followButton(p));
    status.append(el("span", { class: "meta" }, " That key was not accepted."));
    return;
  }
  said.textContent = response.ok ? `following (saved search ${data.id}); new matches appear under Alerts`
    : `could not follow: ${data.detail || response.statusText}`;
}

async function runSearch(p) {
  detail.hidden = true; results.hidden = false;
  status.textContent = "Searching…";
  const ask = new URLSearchParams(p); ask.set("k", String(shown));
  showFacets(p);
  try {
    const data = await getJSON(`/search?${ask}`);
    const n = data.results.length;
    const noun = p.get("kind") === "articles" ? "articles" : "stories";
    const strong = data.results.filter((h) => !h.weak).length;
    // Calibrated relevance: when nothing is a strong match the page says so instead of
    // presenting the closest stories as answers; weaker matches are listed apart.
    status.textContent = !n ? `No ${noun} found.`
      : strong ? `${n} ${noun}` : `No strong match for “${p.get("q")}”. The closest ${noun}:`;
    if (!n) explainEmpty(p, data.notes || []);
    else status.append(" ", followButton(p));
    rememberSources(data.results);
    const items = [];
    data.results.forEach((hit, i) => {
      if (hit.weak && strong && i === strong) items.push(el("li", { class: "divider", id: "weaker" }, "Weaker matches"));
      items.push(renderHit(hit, i + 1));
    });
    results.replaceChildren(...items);
    results.dataset.for = p.toString();  // which search the list shows (tests wait on it)
    $("more").hidden = n < shown;
  } catch (err) {
    results.replaceChildren();
    $("more").hidden = true;
    status.textContent = `Error: ${err.message}`;
  }
}

// Sentiment as stacked horizontal bars in SVG, one row per publisher or per day; the
// colours are the legend's. No chart library: a few rects and labels.
const SENTIMENTS = ["positive", "neutral", "mixed", "negative"];
function sentimentBars(rows, label) {
  const NS = "http://www.w3.org/2000/svg";
  const make = (tag, attrs) => {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  };
  const most = Math.max(1, ...rows.map((r) => SENTIMENTS.reduce((n, s) => n + (r.counts[s] || 0), 0)));
  const lw = 120, bw = 220, rh = 18, gap = 4;
  const svg = make("svg", { viewBox: `0 0 ${lw + bw + 30} ${rows.length * (rh + gap) + 22}`, class: "chart", role: "img", "aria-label": label });
  rows.forEach((r, i) => {
    const y = i * (rh + gap);
    const name = make("text", { x: lw - 6, y: y + rh - 5, "text-anchor": "end", class: "chart-label" });
    name.textContent = r.label.length > 18 ? `${r.label.slice(0, 17)}…` : r.label;
    svg.append(name);
    let x = lw, total = 0;
    for (const s of SENTIMENTS) {
      const n = r.counts[s] || 0;
      if (!n) continue;
      const w = (n / most) * bw;
      const rect = make("rect", { x, y, width: Math.max(w, 2), height: rh, class: `s-${s}`, "data-sentiment": s });
      const tip = make("title", {}); tip.textContent = `${r.label}: ${n} ${s}`;
      rect.append(tip); svg.append(rect);
      x += w; total += n;
    }
    const count = make("text", { x: x + 4, y: y + rh - 5, class: "chart-label" });
    count.textContent = String(total || r.extra || 0);
    svg.append(count);
  });
  const legendY = rows.length * (rh + gap) + 14;
  SENTIMENTS.forEach((s, i) => {
    svg.append(make("rect", { x: lw + i * 60, y: legendY - 9, width: 10, height: 10, class: `s-${s}` }));
    const t = make("text", { x: lw + i * 60 + 14, y: legendY, class: "chart-label" }); t.textContent = s;
    svg.append(t);
  });
  return svg;
}

function entityLink(name) {
  const a = el("a", { href: `/?name=${encodeURIComponent(name)}`, class: "entity" }, name);
  a.addEventListener("click", (e) => { e.preventDefault(); navigate(new URLSearchParams({ name })); });
  return a;
}

// Who covered a story and how, and along its thread, day by day.
async function showCoverage(id, box) {
  try {
    const c = await getJSON(`/clusters/${encodeURIComponent(id)}/coverage`);
    const outlets = c.sources.map((s) => `${s.outlet}${s.count > 1 ? ` (${s.count})` : ""}`).join(", ");
    box.replaceChildren(el("h3", {}, "Coverage"),
      el("p", { class: "meta" }, `${c.sources.length} outlets: ${outlets || "none listed"} · ${c.articles.length} articles`),
      el("h4", {}, "Sentiment by publisher"),
      sentimentBars(c.publishers.map((p) => ({ label: p.publisher, counts: p.sentiment, extra: p.articles })), "articles' sentiment by publisher"),
      el("h4", {}, "Along the story"),
      sentimentBars(c.thread.map((d) => ({ label: d.date || "undated", counts: d.sentiment, extra: d.articles })), "articles' sentiment per day of the story"),
      el("table", { class: "coverage-days" }, el("tr", {}, el("th", {}, "day"), el("th", {}, "outlets"), el("th", {}, "articles")),
        ...c.thread.map((d) => el("tr", {}, el("td", {}, d.date || "undated"), el("td", {}, String(d.outlets)), el("td", {}, String(d.articles))))));
  } catch (err) {
    box.replaceChildren(el("h3", {}, "Coverage"), el("p", { class: "meta" }, `Error: ${err.message}`));
  }
}

// An entity's page: its stories over time, who is named with it, sentiment per period.
async function showEntity(name) {
  results.hidden = true; detail.hidden = false; $("more").hidden = true; $("facets").replaceChildren();
  detail.replaceChildren(el("p", {}, "Loading…"));
  status.textContent = "";
  try {
    const e = await getJSON(`/entities/${encodeURIComponent(name)}`);
    const back = el("a", { href: "/", class: "back" }, "← back");
    back.addEventListener("click", (ev) => { ev.preventDefault(); history.back(); });
    const search = el("a", { href: `/?q=${encodeURIComponent(e.entity)}&entity=${encodeURIComponent(e.entity)}` }, "search its stories");
    search.addEventListener("click", (ev) => { ev.preventDefault(); navigate(new URLSearchParams({ q: e.entity, entity: e.entity })); });
    detail.replaceChildren(back, el("h2", { id: "entity-name" }, e.entity),
      el("div", { class: "meta" }, `${e.stories_total} ${e.stories_total === 1 ? "story" : "stories"} · ${e.articles_total} articles · ${e.first || "?"} – ${e.last || "?"}`,
        e.spellings.length > 1 ? ` · also written ${e.spellings.filter((s) => s !== e.entity).join(", ")}` : "", " · ", search),
      el("h3", {}, `Sentiment per ${e.period}`),
      sentimentBars(e.timeline.map((p) => ({ label: p.period, counts: p.sentiment, extra: p.articles })), `articles naming ${e.entity}, per ${e.period}`),
      el("h3", {}, "Named with it"),
      e.companions.length ? el("p", { class: "companions" }, ...e.companions.flatMap((c, i) => [i ? " · " : "", entityLink(c.entity), el("span", { class: "count" }, ` ${c.stories}`)]))
        : el("p", { class: "meta" }, "No other names."),
      el("h3", {}, "Stories"),
      el("ol", { class: "timeline", id: "entity-stories" }, ...e.stories.map((s) =>
        el("li", {}, el("span", { class: "when" }, s.date || "undated"), " ", clusterLink(s.id, s.title)))));
  } catch (err) {
    detail.replaceChildren(el("p", {}, `Error: ${err.message}`));
  }
}

// What saved searches matched in recent ingests; newest first, each a link to its
// story. Alerts need the server's API key (they hold the key holders' queries): the
// page asks for it once and keeps it for this tab only (sessionStorage).
const KEY = "searchengine.key";
function keyHeaders() {
  const key = sessionStorage.getItem(KEY);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function keyForm(message) {
  const input = el("input", { id: "api-key", type: "password", autocomplete: "off", placeholder: "API key", "aria-label": "API key" });
  const form = el("form", { id: "key-form", class: "key-form" }, el("p", {}, message), input, " ", el("button", { type: "submit" }, "Show alerts"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    showAlerts();
  });
  return el("li", { class: "key" }, form);
}

async function showAlerts() {
  detail.hidden = true; results.hidden = false; $("more").hidden = true; $("facets").replaceChildren();
  status.textContent = "Loading alerts…";
  try {
    const response = await fetch("/alerts?limit=500", { headers: keyHeaders() });
    const data = await response.json().catch(() => ({}));
    if (response.status === 401) {
      const had = Boolean(sessionStorage.getItem(KEY));
      sessionStorage.removeItem(KEY);
      status.textContent = "";
      results.replaceChildren(keyForm(had ? "That key was not accepted; try again." : "Alerts need the server's API key."));
      return;
    }
    if (!response.ok) throw new Error(data.detail || response.statusText);
    const found = data.results.slice().reverse();
    status.textContent = found.length ? `${found.length} ${found.length === 1 ? "alert" : "alerts"} from saved searches, newest first` : "No alerts yet.";
    results.replaceChildren(...found.map((a) => el("li", { class: "story alert", "data-id": a.cluster_id },
      el("div", { class: "meta" }, `${a.matched_at.slice(0, 16).replace("T", " ")} · “${a.query}” · relevance ${Math.round(a.relevance * 100)}%`
        + (a.delivery ? ` · webhook ${a.delivery}` : "")),
      clusterLink(a.cluster_id, a.title), " ", el("span", { class: "when" }, a.date || ""))));
  } catch (err) {
    results.replaceChildren();
    status.textContent = `Error: ${err.message}`;
  }
}

// Stories a reader liked live in this browser only (localStorage): they feed "For you".
const LIKED = "searchengine.liked";
function likedIds() {
  try { return JSON.parse(localStorage.getItem(LIKED) || "[]").filter((x) => typeof x === "string"); }
  catch { return []; }
}
function setLiked(ids) { localStorage.setItem(LIKED, JSON.stringify(ids.slice(-50))); }

function storyItem(r) {
  return el("li", { class: "story", "data-id": r.id }, clusterLink(r.id, r.title), " ",
    // What the item is: "same story", or "popular" (a recommendation filling the list,
    // not one like a liked story); plain "related" goes without saying.
    el("span", { class: r.same_story ? "same" : "meta" }, [r.date || "undated", r.label && r.label !== "related" ? r.label : ""].filter(Boolean).join(" · ")));
}

// "More like this": the stories related to one, as a list of their own.
async function showLike(id) {
  detail.hidden = true; results.hidden = false; $("more").hidden = true; $("facets").replaceChildren();
  status.textContent = "Finding similar stories…";
  try {
    const [c, rel] = await Promise.all([
      getJSON(`/clusters/${encodeURIComponent(id)}`),
      getJSON(`/clusters/${encodeURIComponent(id)}/related?k=10`),
    ]);
    status.replaceChildren(`Stories like `, clusterLink(id, c.title), rel.results.length ? "" : ": none found.");
    results.replaceChildren(...rel.results.map(storyItem));
  } catch (err) {
    results.replaceChildren();
    status.textContent = `Error: ${err.message}`;
  }
}

// The home page: "For you", ranked from the stories liked here (unseen, diverse, fresh).
// The front page, before anyone searches: the most widely covered stories of the
// index's last days, then its newest days' stories (GET /front), under "For you".
function frontItem(s) {
  const outlets = s.sources.slice(0, 4).join(", ") + (s.sources.length > 4 ? ", …" : "");
  return el("li", { class: "story", "data-id": s.id }, clusterLink(s.id, s.title), " ",
    el("span", { class: "meta" }, `${s.date} · ${s.outlets} ${s.outlets === 1 ? "outlet" : "outlets"}${outlets ? ": " + outlets : ""}`));
}
function spokenDay(iso) {
  return new Date(`${iso}T00:00:00Z`).toLocaleDateString("en-GB", { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
}
async function showFront() {
  const box = el("section", { id: "front" });
  results.append(box);
  try {
    const data = await getJSON("/front");
    if (!data.newest) return;
    box.replaceChildren(
      el("section", { id: "widest" }, el("h2", {}, "Most widely covered"), el("ul", {}, ...data.widest.map(frontItem))),
      ...data.days.map((d) => el("section", { class: "day", "data-date": d.date },
        el("h2", {}, spokenDay(d.date)), el("ul", {}, ...d.stories.map(frontItem)))));
  } catch (err) {
    box.replaceChildren(el("p", { class: "meta" }, `Error: ${err.message}`));
  }
}

async function showHome() {
  detail.hidden = true; results.hidden = false; $("more").hidden = true; $("facets").replaceChildren();
  results.replaceChildren(); status.textContent = "";
  showFront();
  const liked = likedIds();
  if (!liked.length) return;
  const box = el("section", { id: "for-you" }, el("h2", {}, "For you"), el("p", { class: "meta" }, "Loading…"));
  results.prepend(box);
  try {
    let data;
    for (;;) {
      try {
        data = await getJSON("/recommend", {
          method: "POST", headers: { "content-type": "application/json" },
          body: JSON.stringify({ liked, k: 5, diversity: 0.3 }),
        });
        break;
      } catch (err) {
        // A liked story removed from the index since: forget it and ask again.
        const gone = liked.find((id) => err.message.includes(`id ${id}`));
        if (!gone) throw err;
        liked.splice(liked.indexOf(gone), 1);
        setLiked(liked);
        if (!liked.length) { box.remove(); return; }
      }
    }
    const clear = el("button", { type: "button", class: "link", id: "forget" }, "forget my likes");
    clear.addEventListener("click", () => { setLiked([]); showHome(); });
    box.replaceChildren(el("h2", {}, "For you"),
      el("p", { class: "meta" }, `From the ${liked.length} ${liked.length === 1 ? "story" : "stories"} you liked here. `, clear),
      data.results.length ? el("ul", {}, ...data.results.map(storyItem)) : el("p", { class: "meta" }, "Nothing new yet."));
  } catch (err) {
    box.replaceChildren(el("h2", {}, "For you"), el("p", { class: "meta" }, `Error: ${err.message}`));
  }
}

async function showCluster(id) {
  results.hidden = true; detail.hidden = false; $("more").hidden = true; $("facets").replaceChildren();
  detail.replaceChildren(el("p", {}, "Loading…"));
  status.textContent = "";
  try {
    const c = await getJSON(`/clusters/${encodeURIComponent(id)}`);
    const back = el("a", { href: "/", class: "back" }, "← back");
    back.addEventListener("click", (e) => { e.preventDefault(); history.back(); });
    const sources = Object.entries(c.sources || {}).map(([h, n]) => `${h}: ${n}`).join(" | ");
    const points = el("ul", {}, ...c.key_points.map((k) => el("li", {}, k)));
    const articles = el("section", { id: "articles" }, el("h3", {}, `Articles (${c.articles.length})`),
      ...c.articles.map((a) => el("div", { class: "article", "data-id": a.id },
        el("h4", {}, a.title),
        el("div", { class: "meta" }, [a.publisher, a.tone, a.sentiment, a.intent].filter(Boolean).join(" · ")),
        (a.entities || []).length ? el("div", { class: "entities" }, ...a.entities.flatMap((n, i) => [i ? ", " : "", entityLink(n)])) : null,
        el("p", {}, a.summary))));
    const thread = el("section", { id: "thread" }, el("h3", {}, "The story so far"), el("p", { class: "meta" }, "Loading…"));
    const coverage = el("section", { id: "coverage" }, el("h3", {}, "Coverage"), el("p", { class: "meta" }, "Loading…"));
    const related = el("section", { id: "related" }, el("h3", {}, "Related stories"), el("p", { class: "meta" }, "Loading…"));
    const details = el("details", { class: "more" }, el("summary", {}, "details"),
      el("div", { class: "meta" }, `id ${c.id}` + (c.origin ? ` · from ${c.origin}` : "")));
    const likeButton = el("button", { type: "button", id: "like", class: "secondary" });
    const paint = () => {
      const on = likedIds().includes(c.id);
      likeButton.textContent = on ? "♥ Liked" : "♡ Like";
      likeButton.setAttribute("aria-pressed", String(on));
    };
    likeButton.addEventListener("click", () => {
      const ids = likedIds();
      setLiked(ids.includes(c.id) ? ids.filter((x) => x !== c.id) : [...ids, c.id]);
      paint();
    });
    paint();
    const likeThis = el("a", { href: `/?like=${encodeURIComponent(c.id)}`, class: "like-this" }, "More like this");
    likeThis.addEventListener("click", (e) => { e.preventDefault(); navigate(new URLSearchParams({ like: c.id })); });
    // A generic document (one headline, one text) has no key points, articles or
    // coverage: sections with nothing to show are left out, and a text that only
    // repeats the title is not printed twice.
    const words = (t) => (t || "").toLowerCase().match(/[\p{L}\p{N}]+/gu)?.join(" ") || "";
    const hasArticles = c.articles.length > 0;
    detail.replaceChildren(...[back, el("h2", {}, c.title), el("div", { class: "actions" }, likeButton, " ", likeThis),
      el("div", { class: "meta" }, [c.date || "undated", sources].filter(Boolean).join(" · ")),
      words(c.summary) && words(c.summary) !== words(c.title) ? el("p", { id: "summary" }, c.summary) : null,
      ...(c.key_points.length ? [el("h3", {}, "Key points"), points] : []),
      thread, hasArticles ? coverage : null, hasArticles ? articles : null, related, details].filter(Boolean));
    if (hasArticles) showCoverage(id, coverage);
    const [th, rel] = await Promise.all([
      getJSON(`/clusters/${encodeURIComponent(id)}/thread`),
      getJSON(`/clusters/${encodeURIComponent(id)}/related?k=5`),
    ]);
    // The story's thread as a timeline: each day of it, this cluster marked.
    if (th.results.length <= 1) thread.remove();  // the story is this one alone
    thread.replaceChildren(el("h3", {}, "The story so far"), el("ol", { class: "timeline" }, ...th.results.map((r) =>
      el("li", { class: r.id === c.id ? "here" : "" }, el("span", { class: "when" }, r.date || "undated"), " ",
        r.id === c.id ? el("strong", {}, r.title) : clusterLink(r.id, r.title)))),
      ...(th.notes || []).map((n) => el("p", { class: "meta" }, n)));
    related.replaceChildren(el("h3", {}, "Related stories"), rel.results.length
      ? el("ul", {}, ...rel.results.map((r) => el("li", {}, clusterLink(r.id, r.title), " ",
          el("span", { class: r.same_story ? "same" : "meta" }, `${r.date || ""} · ${r.label || (r.same_story ? "same story" : "related")}`))))
      : el("p", { class: "meta" }, "No related stories."));
  } catch (err) {
    detail.replaceChildren(el("p", {}, `Error: ${err.message}`));
  }
}

function route() {
  let p = new URLSearchParams(location.search);
  if (!location.search && location.hash.length > 1) {  // links from before: /#q=…
    p = new URLSearchParams(location.hash.slice(1));
    history.replaceState(null, "", `/?${p}`);
  }
  if (p.get("cluster")) return showCluster(p.get("cluster"));
  if (p.get("like")) return showLike(p.get("like"));
  if (p.get("name")) return showEntity(p.get("name"));
  if (p.has("alerts")) return showAlerts();
  fill(p);
  if (p.get("q")) return runSearch(p);
  return showHome();
}

$("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  shown = PAGE;
  navigate(params());
});
$("more").addEventListener("click", () => {
  shown += PAGE;
  runSearch(new URLSearchParams(location.search));
});
$("home").addEventListener("click", (e) => { e.preventDefault(); navigate(new URLSearchParams()); });
$("alerts-link").addEventListener("click", (e) => { e.preventDefault(); navigate(new URLSearchParams({ alerts: "" })); });
window.addEventListener("popstate", () => { shown = PAGE; route(); });
route();
