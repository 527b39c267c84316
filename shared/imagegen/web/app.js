// The page: sign-in, generation forms, live jobs, gallery and stats, all through the JSON API.
import { ApiError, call, get, post, subject, token } from "./api.js";
import { cacheHitRate, costByModel, imagesPerDay } from "./charts.js";

const $ = (id) => document.getElementById(id);
const ENDED = new Set(["completed", "partially_failed", "failed", "cancelled"]);
const POLL_MS = 1500; // the fallback when no WebSocket can be had

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") element.textContent = value;
    else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (value !== false && value !== null && value !== undefined) element.setAttribute(key, value);
  }
  element.append(...children.filter(Boolean));
  return element;
}

// -- errors, as the API words them ---------------------------------------------------------
function showError(error) {
  const box = $("error");
  box.textContent = error instanceof ApiError ? error.message : String(error.message || error);
  box.hidden = false;
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    box.textContent += " — sign in again.";
  }
}

function clearError() {
  $("error").hidden = true;
}

function guarded(handler) {
  return async (event) => {
    event.preventDefault();
    clearError();
    const button = event.submitter || null;
    if (button) button.disabled = true;
    try {
      await handler(event);
    } catch (error) {
      showError(error);
    } finally {
      if (button) button.disabled = false;
    }
  };
}

// -- sign-in ---------------------------------------------------------------------------------
async function offerLocalSignIn() {
  // Only the local stack answers this (its front mints the token); in AWS it is a 404.
  try {
    const answer = await fetch("/local/token", { method: "POST", body: "{}" });
    $("local-form").hidden = !answer.ok;
  } catch {
    $("local-form").hidden = true;
  }
}

async function mintLocal() {
  const answer = await fetch("/local/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ sub: $("local-name").value.trim() }),
  });
  const body = await answer.json();
  if (!answer.ok) throw new ApiError(answer.status, body.error, body.message);
  return body.token;
}

async function signIn(jwt) {
  token.set(jwt);
  try {
    await loadChoices(); // also proves the token: a refused one gets 401/403 here
  } catch (error) {
    token.clear();
    throw error;
  }
  $("who-name").textContent = `Signed in as ${subject(jwt) || "?"}`;
  $("sign-in").hidden = true;
  $("who").hidden = false;
  $("nav").hidden = false;
  show("generate");
  live.connect();
}

function signOut() {
  token.clear();
  location.reload();
}

// -- views -----------------------------------------------------------------------------------
const onShow = { gallery: () => loadJobs(true), stats: () => loadStats() };

function show(view) {
  for (const button of document.querySelectorAll("#nav button")) {
    button.setAttribute("aria-pressed", String(button.dataset.view === view));
  }
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  const load = onShow[view];
  if (load) load().catch(showError);
}

// -- style and colour pickers, from the API's own document ----------------------------------
async function loadChoices() {
  const document_ = await get("/api/openapi.json");
  const icon = document_.components.schemas.IconRequest.properties;
  fillPicker($("style-picker"), "style", icon.style.enum, icon.style.default || "modern", "radio");
  fillPicker($("color-picker"), "color_scheme", icon.color_scheme.enum, icon.color_scheme.default || "colorful",
    "radio");
  fillPicker($("batch-styles"), "styles", icon.style.enum, icon.style.default || "modern", "checkbox");
  $("batch-colors").replaceChildren(...icon.color_scheme.enum.map((scheme) =>
    h("option", { value: scheme, text: scheme.replace(/_/g, " "), selected: scheme === "colorful" && "" })));
}

function fillPicker(fieldset, name, values, chosen, type) {
  const legend = fieldset.querySelector("legend");
  const prefix = name === "color_scheme" ? "color" : "style";
  const choices = values.map((value) => {
    const input = h("input", { type, name, value, checked: value === chosen && "" });
    const sample = type === "radio"
      ? h("img", { src: `/app/samples/${prefix}-${value}.png`, alt: "", width: 48, height: 48 })
      : null;
    return h("label", { class: "choice" }, input, sample, h("span", { text: value.replace(/_/g, " ") }));
  });
  fieldset.replaceChildren(legend, ...choices);
}

// -- category suggestions as one types --------------------------------------------------------
let suggestTimer = 0;
function suggest() {
  clearTimeout(suggestTimer);
  const typed = $("category").value.trim();
  if (!typed) return $("suggestions").replaceChildren();
  suggestTimer = setTimeout(async () => {
    try {
      const answer = await get(`/api/icons/categories/suggestions?limit=6&q=${encodeURIComponent(typed)}`);
      $("suggestions").replaceChildren(...answer.suggestions.map((found) =>
        h("li", {}, h("button", {
          type: "button", class: "suggestion", text: found.category,
          onclick: () => { $("category").value = found.category; $("suggestions").replaceChildren(); $("category").focus(); },
        }))));
    } catch (error) {
      showError(error);
    }
  }, 150);
}

function suggestionKeys(event) {
  if (event.key === "ArrowDown") {
    const first = $("suggestions").querySelector("button");
    if (first) { event.preventDefault(); first.focus(); }
  }
}

// -- jobs, followed live ------------------------------------------------------------------------
const cards = new Map(); // job id -> JobCard

class JobCard {
  constructor(jobId, title, into) {
    this.jobId = jobId;
    this.ended = false;
    this.progress = h("progress", { max: 100, value: 0, "aria-label": `Progress of ${title}` });
    this.summary = h("p", { class: "counts", text: "queued" });
    this.grid = h("div", { class: "grid" });
    this.cancel = h("button", { type: "button", text: "Cancel", onclick: () => this.cancelJob() });
    this.element = h("article", { class: "job card", "data-job": jobId },
      h("h4", { text: title }), this.progress, this.summary, this.cancel, this.grid);
    into.prepend(this.element);
    cards.set(jobId, this);
  }

  status(status) {
    const counts = status.counts;
    this.progress.value = status.percent;
    this.summary.textContent = `${status.state}: ${counts.completed} of ${counts.total} done` +
      (counts.failed ? `, ${counts.failed} failed` : "") + (counts.cancelled ? `, ${counts.cancelled} cancelled` : "");
    this.element.dataset.state = status.state;
    if (ENDED.has(status.state)) {
      this.ended = true;
      this.cancel.hidden = true;
    }
  }

  result(result) {
    this.status({ ...result, percent: percentOf(result.counts) });
    this.grid.replaceChildren(...result.items.map(tile));
  }

  async refresh() {
    this.result(await get(`/api/jobs/${this.jobId}/result`));
  }

  async cancelJob() {
    clearError();
    try {
      await post(`/api/jobs/${this.jobId}/cancel`);
      await this.refresh();
    } catch (error) {
      showError(error);
    }
  }
}

function percentOf(counts) {
  return counts.total ? (100 * (counts.total - counts.pending)) / counts.total : 0;
}

function tile(item) {
  const label = item.category ? `${item.category} #${item.variation}` : `${item.post_id}/${item.section_id}`;
  const picture = item.download_url
    ? h("img", { src: item.download_url, alt: label, loading: "lazy" })
    : h("div", { class: `placeholder ${item.state}`, text: item.error || item.state });
  const actions = item.download_url
    ? h("div", { class: "actions" },
      h("button", { type: "button", text: "Metadata", onclick: () => openMetadata(item) }),
      h("a", { href: item.download_url, download: "", text: "Download", target: "_blank", rel: "noopener" }))
    : null;
  return h("figure", { class: "tile", "data-state": item.state },
    picture, h("figcaption", { text: label }), actions);
}

async function openMetadata(item) {
  clearError();
  try {
    const answer = await fetch(item.metadata_download_url);
    if (!answer.ok) throw new Error(`the metadata file answered ${answer.status}`);
    $("metadata-body").textContent = JSON.stringify(await answer.json(), null, 2);
    $("metadata-title").textContent = `Metadata of ${item.key}`;
    $("metadata-dialog").showModal();
  } catch (error) {
    showError(error);
  }
}

// One WebSocket for the page; each job card subscribes. Without one (no ticket, refused, closed),
// the cards poll their status.
const live = {
  socket: null,
  ready: null,
  async connect() {
    if (this.ready) return this.ready;
    this.ready = (async () => {
      const { body } = await post("/api/ws/ticket");
      const socket = new WebSocket(body.url);
      await new Promise((resolve, reject) => {
        socket.addEventListener("open", resolve, { once: true });
        socket.addEventListener("error", reject, { once: true });
      });
      socket.addEventListener("message", (event) => this.received(JSON.parse(event.data)));
      socket.addEventListener("close", () => this.lost());
      this.socket = socket;
      return socket;
    })().catch(() => null);
    return this.ready;
  },
  lost() {
    this.socket = null;
    this.ready = null;
    for (const card of cards.values()) if (!card.ended) poll(card);
  },
  received(message) {
    const card = cards.get(message.batch_id);
    if (!card) return;
    if (message.type === "error") return poll(card);
    card.status(message);
    // Images come with the result (presigned URLs); the message names the item only.
    if (message.type === "snapshot" || message.type.startsWith("job.") || message.type === "item.completed" ||
        message.type === "item.failed" || message.type === "item.cancelled") {
      scheduleRefresh(card);
    }
  },
  async follow(card) {
    const socket = await this.connect();
    if (!socket) return poll(card);
    socket.send(JSON.stringify({ action: "subscribe", batch_id: card.jobId }));
  },
};

const refreshing = new Map();
function scheduleRefresh(card) {
  // Several events in a burst make one result request.
  if (refreshing.has(card.jobId)) return;
  refreshing.set(card.jobId, setTimeout(() => {
    refreshing.delete(card.jobId);
    card.refresh().catch(showError);
  }, 150));
}

async function poll(card) {
  if (card.polling) return;
  card.polling = true;
  let seen = -1;
  while (!card.ended) {
    try {
      const status = await get(`/api/jobs/${card.jobId}`);
      card.status(status);
      const done = status.counts.total - status.counts.pending;
      if (done !== seen || card.ended) {
        seen = done;
        await card.refresh();
      }
    } catch (error) {
      showError(error);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  card.polling = false;
}

function started(answer, title, into) {
  const body = answer.body;
  const card = new JobCard(body.batch_id, title, into);
  if (answer.status === 200 && body.items) card.result(body); // ended within Prefer: wait
  if (!card.ended) {
    card.grid.replaceChildren(...Array.from({ length: body.total || body.counts?.total || 0 },
      (_, index) => tile({ index, state: "queued", category: title, variation: index + 1 })));
    live.follow(card);
  }
  return card;
}

// -- forms -------------------------------------------------------------------------------------
function checked(name) {
  return [...document.querySelectorAll(`input[name="${name}"]:checked`)].map((input) => input.value);
}

function list(text) {
  return text.split(",").map((part) => part.trim()).filter(Boolean);
}

async function generateIcon() {
  const body = {
    category: $("category").value.trim(),
    style: checked("style")[0],
    color_scheme: checked("color_scheme")[0],
    custom_elements: list($("elements").value),
  };
  if ($("icon-size").value) body.size = $("icon-size").value;
  const answer = await post("/api/icons/generate", body, { Prefer: "wait=5" });
  started(answer, body.category, $("single-jobs"));
}

async function generateBlog() {
  const body = {
    prompt: $("prompt").value,
    post_id: $("post-id").value.trim(),
    section_id: $("section-id").value.trim(),
    size: $("size").value,
  };
  if ($("filename").value.trim()) body.filename = $("filename").value.trim();
  const answer = await post("/api/images/generate", body);
  started(answer, `post ${body.post_id}, section ${body.section_id}`, $("single-jobs"));
}

async function startBatch() {
  const styles = checked("styles");
  if (!styles.length) throw new Error("Pick at least one style.");
  const categories = list($("batch-categories").value);
  for (const style of styles) {
    const body = {
      categories, style, color_scheme: $("batch-colors").value,
      variations_per_category: Number($("variations").value),
    };
    if ($("batch-size").value) body.size = $("batch-size").value;
    const answer = await post("/api/icons/generate/batch", body);
    started(answer, `${categories.join(", ")} · ${style}`, $("batch-jobs"));
  }
}

// -- gallery -------------------------------------------------------------------------------------
let nextCursor = null;
async function loadJobs(first) {
  const cursor = first ? "" : `&cursor=${encodeURIComponent(nextCursor)}`;
  const page = await get(`/api/jobs?limit=10${cursor}`);
  const rows = page.batches.map((job) => h("li", {},
    h("button", {
      type: "button", class: "job-row",
      text: `${job.kind} · ${job.state} · ${job.counts.completed}/${job.counts.total} · ${job.created_at.slice(0, 16).replace("T", " ")}`,
      onclick: () => openJob(job),
    })));
  if (first) $("job-list").replaceChildren(...rows);
  else $("job-list").append(...rows);
  nextCursor = page.next_cursor;
  $("gallery-more").hidden = !nextCursor;
}

async function openJob(job) {
  clearError();
  try {
    cards.delete(job.batch_id);
    $("gallery-job").replaceChildren();
    const card = new JobCard(job.batch_id, `${job.kind} ${job.batch_id}`, $("gallery-job"));
    await card.refresh();
    if (!card.ended) live.follow(card);
    card.element.scrollIntoView({ block: "nearest" });
  } catch (error) {
    showError(error);
  }
}

// -- stats ----------------------------------------------------------------------------------------
async function loadStats() {
  const stats = await get("/api/icons/stats");
  const figures = h("dl", { class: "figures card" },
    ...[
      ["Generations", stats.generations],
      ["Success rate", stats.success_rate === null ? "—" : `${Math.round(stats.success_rate * 100)} %`],
      ["Average", stats.average_ms === null ? "—" : `${(stats.average_ms / 1000).toFixed(1)} s`],
      ["Cost", `$${stats.actual_cost_usd.toFixed(4)}`],
    ].flatMap(([name, value]) => [h("dt", { text: name }), h("dd", { text: String(value) })]));
  $("stats").replaceChildren(imagesPerDay(stats.by_day || []), costByModel(stats.by_model), cacheHitRate(stats),
    figures);
}

// -- wiring ---------------------------------------------------------------------------------------
function wire() {
  $("token-form").addEventListener("submit", guarded(() => signIn($("token").value.trim())));
  $("local-form").addEventListener("submit", guarded(async () => signIn(await mintLocal())));
  $("sign-out").addEventListener("click", signOut);
  for (const button of document.querySelectorAll("#nav button")) {
    button.addEventListener("click", () => { clearError(); show(button.dataset.view); });
  }
  $("category").addEventListener("input", suggest);
  $("category").addEventListener("keydown", suggestionKeys);
  $("icon-form").addEventListener("submit", guarded(generateIcon));
  $("blog-form").addEventListener("submit", guarded(generateBlog));
  $("batch-form").addEventListener("submit", guarded(startBatch));
  $("gallery-refresh").addEventListener("click", () => loadJobs(true).catch(showError));
  $("gallery-more").addEventListener("click", () => loadJobs(false).catch(showError));
  $("stats-refresh").addEventListener("click", () => loadStats().catch(showError));
  $("metadata-close").addEventListener("click", () => $("metadata-dialog").close());
}

wire();
if (token.get()) signIn(token.get()).catch((error) => { showError(error); offerLocalSignIn(); });
else offerLocalSignIn();
