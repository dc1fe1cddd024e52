// A real OpenID provider on loopback for the single sign-on test: panva's certified `oidc-provider`
// (npm, version pinned in tests/test_hub_sso.py), with a login form that checks passwords, as an
// organisation's provider does. Run by the test from the folder where it installed the package:
//
//   node oidc_provider.mjs CONFIG.json     (prints "listening <issuer>" when ready)
//
// CONFIG.json: {"issuer": "http://127.0.0.1:PORT", "port": PORT, "client": {client_id, client_secret,
// redirect_uris}, "accounts": {"<login>": {"password": "...", "claims": {...}}}, "cookie_key": "..."}
import { readFileSync } from "node:fs";
import http from "node:http";

import Provider from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const accounts = config.accounts;

const provider = new Provider(config.issuer, {
  clients: [{ ...config.client, grant_types: ["authorization_code"], response_types: ["code"] }],
  // The claims a hub needs: who (preferred_username), which groups, which cohort.
  claims: { openid: ["sub"], profile: ["preferred_username", "name", "groups", "cohort"], email: ["email"] },
  scopes: ["openid", "profile", "email"],
  cookies: { keys: [config.cookie_key] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    if (!accounts[id]) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...accounts[id].claims }) };
  },
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginForm(res, uid, error) {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(`<!doctype html><title>Sign in</title><h1>Sign in to Example Corp</h1>
${error ? `<p id="error">${escape(error)}</p>` : ""}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Login <input id="login" name="login" autocomplete="username"></label>
<label>Password <input id="password" name="password" type="password"></label>
<button id="submit" type="submit">Sign in</button></form>`);
}

async function body(req) {
  let data = "";
  for await (const chunk of req) data += chunk;
  return new URLSearchParams(data);
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params, session } = details;
  if (req.method === "POST" && req.url.endsWith("/login")) {
    const form = await body(req);
    const login = form.get("login") || "";
    const account = accounts[login];
    if (!account || account.password !== form.get("password")) {
      return loginForm(res, uid, "Wrong login or password.");
    }
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }
  if (prompt.name === "login") return loginForm(res, uid);
  // The hub is the organisation's own application: consent is given for it (what providers call a
  // first-party or pre-approved client).
  const grant = details.grantId ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(" "));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith("/interaction/")) {
    interaction(req, res).catch((err) => {
      res.writeHead(400, { "content-type": "text/plain" });
      res.end(`interaction failed: ${err.message}`);
    });
  } else {
    callback(req, res);
  }
});
server.listen(config.port, "127.0.0.1", () => console.log(`listening ${config.issuer}`));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
