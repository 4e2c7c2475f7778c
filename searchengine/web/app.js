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

function params() {
  const p = new URLSearchParams();
  p.set("q", $("q").value.trim());
  p.set("k", "10");
  p.set("mode", $("mode").value);
  if ($("from").value) p.set("from", $("from").value);
  if ($("to").value) p.set("to", $("to").value);
  if ($("source").value.trim()) p.set("source", $("source").value.trim());
  return p;
}

function rememberSources(hits) {
  const list = $("known-sources");
  const known = new Set([...list.options].map((o) => o.value));
  for (const hit of hits) for (const host of Object.keys(hit.sources || {})) {
    if (!known.has(host)) { known.add(host); list.append(el("option", { value: host })); }
  }
}

async function runSearch() {
  const p = params();
  if (!p.get("q")) return;
  detail.hidden = true; results.hidden = false;
  status.textContent = "Searching…";
  results.replaceChildren();
  try {
    const data = await getJSON(`/search?${p}`);
    status.textContent = data.results.length ? `${data.results.length} stories` : "No stories found.";
    rememberSources(data.results);
    data.results.forEach((hit, i) => results.append(renderHit(hit, i + 1)));
  } catch (err) {
    status.textContent = `Error: ${err.message}`;
  }
}

function renderHit(hit, rank) {
  const link = el("a", { href: `#cluster=${encodeURIComponent(hit.cluster_id)}`, class: "open" }, hit.title);
  const sources = Object.keys(hit.sources || {}).join(", ");
  const item = el("li", { class: "result", "data-id": hit.id },
    el("h2", {}, link),
    el("div", { class: "meta" }, `${rank}. ${hit.date || ""} · ${sources} · score ${hit.score.toFixed(4)} · ${hit.id}`));
  for (const p of hit.passages) {
    item.append(el("p", { class: "passage" }, el("span", { class: "field" }, fieldLabel(p)), highlighted(p.text, p.highlights)));
  }
  return item;
}

async function showCluster(id) {
  results.hidden = true; detail.hidden = false;
  detail.replaceChildren(el("p", {}, "Loading…"));
  status.textContent = "";
  try {
    const c = await getJSON(`/clusters/${encodeURIComponent(id)}`);
    const back = el("a", { href: "#", class: "back" }, "← back to results");
    back.addEventListener("click", (e) => { e.preventDefault(); history.back(); });
    const sources = Object.entries(c.sources || {}).map(([h, n]) => `${h}: ${n}`).join(" | ");
    const points = el("ul", {}, ...c.key_points.map((k) => el("li", {}, k)));
    const articles = el("section", { id: "articles" }, el("h3", {}, `Articles (${c.articles.length})`),
      ...c.articles.map((a) => el("div", { class: "article", "data-id": a.id },
        el("h4", {}, a.title),
        el("div", { class: "meta" }, [a.publisher, a.sentiment, (a.entities || []).join(", ")].filter(Boolean).join(" · ")),
        el("p", {}, a.summary))));
    const related = el("section", { id: "related" }, el("h3", {}, "Related stories"), el("p", { class: "meta" }, "Loading…"));
    detail.replaceChildren(back, el("h2", {}, c.title), el("div", { class: "meta" }, `${c.date} · ${sources} · ${c.id}`),
      el("p", {}, c.summary), el("h3", {}, "Key points"), points, articles, related);
    const rel = await getJSON(`/clusters/${encodeURIComponent(id)}/related?k=5`);
    related.replaceChildren(el("h3", {}, "Related stories"), el("ul", {}, ...rel.results.map((r) => el("li", {},
      el("a", { href: `#cluster=${encodeURIComponent(r.id)}` }, r.title), " ",
      el("span", { class: r.same_story ? "same" : "meta" }, `${r.date} · ${r.same_story ? "same story" : "related"}`)))));
  } catch (err) {
    detail.replaceChildren(el("p", {}, `Error: ${err.message}`));
  }
}

function route() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("cluster")) return showCluster(hash.get("cluster"));
  if (hash.get("q")) {
    $("q").value = hash.get("q");
    for (const key of ["from", "to", "source", "mode"]) if (hash.get(key)) $(key).value = hash.get(key);
    return runSearch();
  }
  detail.hidden = true; results.hidden = false;
}

$("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const p = params(); p.delete("k");
  const target = `#${p}`;
  if (location.hash === target) runSearch(); else location.hash = target;
});
window.addEventListener("hashchange", route);
route();
