// The JSON API with the signed-in token. The token lives in sessionStorage: it goes with the tab,
// never into a cookie, so no other site's request carries it.
const TOKEN_KEY = "imagegen.token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

// The sub claim, for display only (the API checks the signature; the page never needs to).
export function subject(jwt) {
  try {
    const payload = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).sub || "";
  } catch {
    return "";
  }
}

async function errorOf(response) {
  // The API words its errors as {error, message}; API Gateway's own 401/403/404 as {message}.
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON: the status line is all there is
  }
  const message = body.message || `${response.status} ${response.statusText}`;
  return new ApiError(response.status, body.error || "http_" + response.status, message);
}

export async function call(method, path, { body, headers = {}, auth = true } = {}) {
  const sent = { Accept: "application/json", ...headers };
  if (auth) sent.Authorization = `Bearer ${token.get()}`;
  if (body !== undefined) sent["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers: sent,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await errorOf(response);
  return { status: response.status, body: response.status === 204 ? null : await response.json() };
}

export const get = (path) => call("GET", path).then((answer) => answer.body);

// A key per create: a retried click or a replayed request never makes a second job.
export const post = (path, body, headers = {}) =>
  call("POST", path, { body, headers: { "Idempotency-Key": crypto.randomUUID(), ...headers } });
