// Small inline SVG charts: three charts of a few dozen shapes need no library (one from npm would have
// to be vendored, as the page has no build step), and SVG scales to a phone's width.
const SVG = "http://www.w3.org/2000/svg";

function svg(name, attributes = {}, children = []) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  for (const child of children) element.append(child);
  return element;
}

function text(x, y, content, attributes = {}) {
  const label = svg("text", { x, y, ...attributes });
  label.textContent = content;
  return label;
}

function figure(title, summary, chart) {
  const box = document.createElement("figure");
  box.className = "chart card";
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  const described = document.createElement("p");
  described.className = "help";
  described.textContent = summary;
  box.append(caption, chart, described);
  return box;
}

// Images stored per day, one bar a day (the last 30 days, oldest first).
export function imagesPerDay(days) {
  const width = 300, height = 120, base = 100;
  const most = Math.max(1, ...days.map((day) => day.images));
  const step = width / Math.max(days.length, 1);
  const total = days.reduce((sum, day) => sum + day.images, 0);
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Images per day: ${total} in the last ${days.length} days`, "data-chart": "images-per-day",
  });
  days.forEach((day, index) => {
    const tall = (day.images / most) * (base - 10);
    const bar = svg("rect", {
      x: index * step + 1, y: base - tall, width: Math.max(step - 2, 1), height: tall, class: "bar",
    });
    bar.append(svg("title", {}, [`${day.date}: ${day.images} images, $${day.cost_usd.toFixed(4)}`]));
    chart.append(bar);
  });
  chart.append(svg("line", { x1: 0, y1: base, x2: width, y2: base, class: "axis" }));
  if (days.length) {
    chart.append(text(0, height - 4, days[0].date, { class: "tick" }));
    chart.append(text(width, height - 4, days[days.length - 1].date, { class: "tick", "text-anchor": "end" }));
  }
  return figure("Images per day", `${total} images in ${days.length} days; the tallest bar is ${most}.`, chart);
}

// Cost by model: one horizontal bar per model.
export function costByModel(models) {
  const rowHeight = 26, width = 300;
  const height = Math.max(models.length, 1) * rowHeight + 4;
  const most = Math.max(1e-9, ...models.map((model) => model.actual_cost_usd));
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Cost by model", "data-chart": "cost-by-model",
  });
  if (!models.length) chart.append(text(0, 18, "No billed calls yet", { class: "tick" }));
  models.forEach((model, index) => {
    const y = index * rowHeight + 4;
    const long = (model.actual_cost_usd / most) * (width - 110);
    chart.append(svg("rect", { x: 0, y, width: Math.max(long, 1), height: rowHeight - 8, class: "bar" }));
    chart.append(text(Math.max(long, 1) + 4, y + 13, `${model.model} $${model.actual_cost_usd.toFixed(4)}`,
      { class: "tick" }));
  });
  const total = models.reduce((sum, model) => sum + model.actual_cost_usd, 0);
  return figure("Cost by model", `$${total.toFixed(4)} in all, from each answer's usage.`, chart);
}

// The cache hit rate as a ring: the share of requests answered from the cache.
export function cacheHitRate(stats) {
  const rate = stats.cache_hit_rate ?? 0;
  const radius = 40, around = 2 * Math.PI * radius;
  const chart = svg("svg", {
    viewBox: "0 0 120 120", role: "img", "aria-label": `Cache hit rate ${Math.round(rate * 100)} %`,
    "data-chart": "cache-hit-rate",
  });
  chart.append(svg("circle", { cx: 60, cy: 60, r: radius, class: "ring" }));
  chart.append(svg("circle", {
    cx: 60, cy: 60, r: radius, class: "ring-filled", transform: "rotate(-90 60 60)",
    "stroke-dasharray": `${rate * around} ${around}`,
  }));
  chart.append(text(60, 66, `${Math.round(rate * 100)} %`, { "text-anchor": "middle", class: "big" }));
  const summary = stats.cache_hit_rate === null
    ? "No requests yet."
    : `${stats.cache_hits} cache hits for ${stats.generations} generations.`;
  return figure("Cache hit rate", summary, chart);
}
