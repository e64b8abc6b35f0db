// pigen demo storefront: plain JS, no build step. Everything is rendered with
// textContent / attributes (never innerHTML), so catalog text cannot inject markup.
"use strict";

const state = { user: null, seed: 0, diversity: 1, key: null };
const $ = (id) => document.getElementById(id);

function say(message) { $("status").textContent = message; }

async function api(path, options = {}) {
  const headers = Object.assign({ "Accept": "application/json" }, options.headers || {});
  if (state.key) headers["X-API-Key"] = state.key;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new Error(`${response.status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  }
  return response.json();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else if (name === "on") Object.entries(value).forEach(([ev, fn]) => node.addEventListener(ev, fn));
    else if (value !== null && value !== undefined) node.setAttribute(name, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function describe(item) {
  return [item.colour_name, item.pattern, item.category].filter(Boolean).join(" ");
}

function itemImage(item) {
  if (!item.image_url) {
    return el("div", { class: "placeholder", role: "img", "aria-label": describe(item),
                       style: `background:${item.colour || "#ddd"};aspect-ratio:1/1;border-radius:.25rem` });
  }
  return el("img", { src: item.image_url, alt: `${describe(item)} (${item.item_id})`,
                     loading: "lazy", width: "128", height: "128" });
}

function starButtons(item) {
  const stars = el("div", { class: "stars", role: "group", "aria-label": `Rate ${item.item_id}` });
  for (let value = 1; value <= 5; value++) {
    stars.append(el("button", {
      type: "button", class: "star", "data-item": item.item_id, "data-value": String(value),
      "aria-label": `Rate ${item.item_id} ${value} star${value > 1 ? "s" : ""}`,
      text: `${value}★`, on: { click: () => rate(item.item_id, value) },
    }));
  }
  return stars;
}

function renderRated(body) {
  const list = $("rated");
  list.replaceChildren();
  if (!body.ratings.length) {
    list.append(el("li", { class: "muted", text: "No ratings yet: images follow what is popular." }));
  }
  for (const rating of body.ratings.slice(0, 24)) {
    list.append(el("li", { class: "card", "data-item": rating.item.item_id },
      itemImage(rating.item),
      el("div", { class: "title", text: rating.item.item_id }),
      el("div", { text: describe(rating.item) }),
      el("div", { class: "muted", text: `rated ${"★".repeat(Math.round(rating.value))} (${rating.value})` })));
  }
  list.setAttribute("aria-busy", "false");
}

function renderRecs(body) {
  const list = $("recs");
  list.replaceChildren();
  for (const rec of body.items) {
    const because = rec.because.length
      ? `because you rated ${rec.because.map((b) => b.item_id).join(", ")}`
      : "popular with all shoppers";
    list.append(el("li", { class: "card", "data-item": rec.item.item_id },
      itemImage(rec.item),
      el("div", { class: "title", text: rec.item.item_id }),
      el("div", { text: describe(rec.item) }),
      el("div", { class: "muted small", text: `score ${rec.score.toFixed(3)} · ${because}` }),
      starButtons(rec.item)));
  }
  list.setAttribute("aria-busy", "false");
}

function renderMade(body) {
  $("why").textContent = body.explanation.summary +
    (body.prior ? "" : ` (taste from: ${body.source === "folded" ? "your latest ratings, folded in" : "the trained model"})`);
  const list = $("made");
  list.replaceChildren();
  for (const image of body.images) {
    const c = image.condition;
    const label = `${c.colour_name || ""} ${c.pattern} ${c.category}`.trim();
    list.append(el("li", { class: "card", "data-image": image.image_id },
      el("img", { src: `${image.webp_url}?size=128`, alt: `Generated: ${label}`,
                  width: "128", height: "128", decoding: "async" }),
      el("div", { class: "title", text: c.category }),
      el("div", {}, el("span", { class: "swatch", style: `background:${c.colour}`, "aria-hidden": "true" }),
        document.createTextNode(`${c.colour_name || c.colour} · ${c.pattern}`)),
      el("div", { class: "muted small", text: `seed ${image.seed_text} · models ALS ${image.model_versions.als}, generator ${image.model_versions.generator}` }),
      body.prior ? el("span", { class: "badge", text: "popular prior" }) : null));
  }
  list.setAttribute("aria-busy", "false");
}

async function loadShopper() {
  const user = state.user;
  for (const id of ["rated", "recs", "made"]) $(id).setAttribute("aria-busy", "true");
  say(`Loading ${user}…`);
  const q = encodeURIComponent(user);
  try {
    const [rated, recs, made] = await Promise.all([
      api(`/v1/users/${q}/ratings?limit=24`),
      api(`/v1/users/${q}/recommendations?k=8`),
      api(`/v1/users/${q}/images?n=6&seed=${state.seed}&diversity=${state.diversity}`),
    ]);
    if (user !== state.user) return;  // the shopper changed meanwhile
    renderRated(rated);
    renderRecs(recs);
    renderMade(made);
    say(`${user}: ${rated.ratings.length} ratings shown; images from ${made.source === "prior" ? "the popularity prior" : "their taste"}.`);
  } catch (error) {
    say(`Could not load ${user}: ${error.message}`);
  }
}

async function rate(itemId, value) {
  if (!state.key) {
    say("Rating needs a key with the write scope: open the demo link `pigen demo` printed (it carries one).");
    return;
  }
  try {
    const result = await api("/v1/interactions", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ interactions: [{ user_id: state.user, item_id: itemId, value }] }),
    });
    say(`Rated ${itemId} ${value}★ — taste now from ${result.users[0].source === "folded" ? "the new ratings, folded in" : result.users[0].source}. Updating…`);
    await loadShopper();
  } catch (error) {
    say(`Could not save the rating: ${error.message}`);
  }
}

async function init() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("key")) {
    sessionStorage.setItem("pigen-key", hash.get("key"));
    history.replaceState(null, "", location.pathname + location.search);  // keep it out of the bar
  }
  state.key = sessionStorage.getItem("pigen-key");
  const params = new URLSearchParams(location.search);
  const select = $("shopper");
  try {
    const page = await api("/v1/users?limit=200");
    for (const user of page.users) {
      select.append(el("option", { value: user.user_id, text: `${user.user_id} (${user.ratings} ratings)` }));
    }
  } catch (error) {
    say(`Could not list shoppers: ${error.message}`);
  }
  select.append(el("option", { value: "new-visitor", text: "a new visitor (no ratings)" }));
  const wanted = params.get("user");
  if (wanted && ![...select.options].some((o) => o.value === wanted)) {
    select.append(el("option", { value: wanted, text: wanted }));
  }
  select.value = wanted || select.options[0].value;
  state.user = select.value;
  select.addEventListener("change", () => { state.user = select.value; state.seed = 0; loadShopper(); });
  $("diversity").addEventListener("change", (event) => {
    state.diversity = Number(event.target.value);
    event.target.setAttribute("aria-valuetext", String(state.diversity));
    loadShopper();
  });
  $("reshuffle").addEventListener("click", () => { state.seed += 1; loadShopper(); });
  await loadShopper();
}

document.addEventListener("DOMContentLoaded", init);
