// The OpenID provider PrintPark's single sign-on tests sign in against: the certified
// `oidc-provider` (npm) on 127.0.0.1 over HTTPS, started and stopped by
// tests/support/oidc.rs.
//
// Usage: node provider.mjs CONFIG.json [MODULES_DIR]
//   MODULES_DIR is the folder that holds `node_modules` (tests/run.sh installs it into a
//   cache dir with `npm ci` from this folder's lockfile); default: this script's folder.
//
// CONFIG.json:
//   { "port": 8443, "cert": "server.pem", "key": "server-key.pem",
//     "issuer": "https://127.0.0.1:8443",
//     "groups": "scope" | "always",        // the groups claim with a `groups` scope, or always
//     "code_ttl_secs": 60,                  // authorization code lifetime (optional)
//     "clients": [ oidc-provider client metadata: client_id, client_secret,
//                  redirect_uris, post_logout_redirect_uris, ... ],
//     "accounts": [ { "sub", "email", "email_verified", "preferred_username", "name",
//                     "groups": [..], "password" } ] }
//
// Besides the provider's own endpoints it serves:
//   GET  /interaction/:uid        a plain sign-in form (login = sub, username or e-mail;
//                                 the account's password) that a headless browser fills;
//                                 consent is granted without a page.
//   POST /__tamper {"mode": M}    from now on, the token endpoint's ID token is altered:
//                                 "wrong-iss", "wrong-aud", "wrong-nonce", "expired"
//                                 (re-signed with the provider's own key, so only the
//                                 altered claim is wrong) or "bad-signature" (the real
//                                 claims signed with a foreign key under the provider's
//                                 key id); "none" turns it off.
//   POST /__account {account}     replaces the account with that `sub` (its e-mail or
//                                 groups changed at the provider).
//   GET  /__stats                 {"token_responses", "tampered", "ended_sessions", "mode"}:
//                                 tests wait on these to know the token endpoint was
//                                 reached, or a session ended by RP-initiated logout.
// Test-only endpoints: this process only ever listens on loopback for one test.

import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomUUID, timingSafeEqual } from 'node:crypto';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const modulesDir = process.argv[3] ?? dirname(fileURLToPath(import.meta.url));
// Resolved from MODULES_DIR rather than from this file, so the install can live elsewhere.
const need = createRequire(join(modulesDir, 'package.json'));
const load = (name) => import(pathToFileURL(need.resolve(name)).href);
const { default: Provider } = await load('oidc-provider');
const jose = await load('jose');

// The provider's signing key is made here, so this script can re-sign altered tokens
// with it; the foreign key signs the "bad-signature" tokens.
const KID = 'printpark-test-key';
const ALG = 'RS256';
const ownKey = await jose.generateKeyPair(ALG, { extractable: true });
const foreignKey = await jose.generateKeyPair(ALG, { extractable: true });
const privateJwk = { ...(await jose.exportJWK(ownKey.privateKey)), kid: KID, alg: ALG, use: 'sig' };

const accounts = new Map(config.accounts.map((a) => [a.sub, a]));
const findByLogin = (login) =>
  [...accounts.values()].find((a) => a.sub === login || a.preferred_username === login || a.email === login);

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: { keys: [privateJwk] },
  cookies: { keys: [randomUUID()] },
  // Authorization code with PKCE (S256) for every client, confidential ones too.
  pkce: { methods: ['S256'], required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
  claims: {
    openid: config.groups === 'always' ? ['sub', 'groups'] : ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // Scope claims in the ID token too, as Keycloak, Entra ID and Google do.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    // RP-initiated logout: the confirmation page a browser clicks through.
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = `<!doctype html><html><head><meta charset="utf-8"><title>Test provider: sign out</title></head>
<body><h1>Test provider</h1>${form}<p>Sign out of the test provider?</p>
<button id="sign-out" type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
</body></html>`;
      },
    },
  },
  // Explicit lifetimes (the defaults print notices); a test may shorten the code's.
  ttl: {
    AccessToken: 600, AuthorizationCode: config.code_ttl_secs ?? 60, Grant: 3600,
    IdToken: 600, Interaction: 600, Session: 3600,
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = accounts.get(id);
    if (!account) return undefined;
    const { password, ...claims } = account;
    return { accountId: id, claims: async () => claims };
  },
});

let mode = 'none';
let tokenResponses = 0;
let tampered = 0;
let endedSessions = 0;
provider.on('end_session.success', () => { endedSessions += 1; });

// Re-signs the ID token of a token endpoint answer as the tamper mode says.
async function tamper(idToken) {
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = ownKey.privateKey;
  switch (mode) {
    case 'wrong-iss': claims.iss = 'https://issuer.invalid'; break;
    case 'wrong-aud': claims.aud = 'some-other-client'; break;
    case 'wrong-nonce': claims.nonce = randomUUID(); break;
    case 'expired': claims.iat = now - 7200; claims.exp = now - 3600; break;
    case 'bad-signature': key = foreignKey.privateKey; break;
    default: throw new Error(`unknown tamper mode ${mode}`);
  }
  return new jose.SignJWT(claims).setProtectedHeader({ alg: ALG, kid: KID }).sign(key);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const loginPage = (uid, clientId, error) => `<!doctype html>
<html><head><meta charset="utf-8"><title>Test provider: sign in</title></head>
<body><h1>Test provider</h1><p>Sign in to continue to ${escape(clientId)}.</p>
${error ? `<p id="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Login <input id="login" name="login" autocomplete="off" required></label>
<label>Password <input id="password" name="password" type="password" required></label>
<button id="sign-in" type="submit">Sign in</button></form></body></html>`;

const samePassword = (a, b) => {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
};

// Grants every scope and claim the client asked for: the tests are about PrintPark,
// not about a consent screen.
async function grantAll(details, accountId) {
  const { params, prompt } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(prompt.details.missingOIDCScope?.join(' ') ?? params.scope);
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

provider.use(async (ctx, next) => {
  const interaction = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (interaction) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name === 'consent') {
      const grantId = await grantAll(details, details.session.accountId);
      ctx.status = 303;
      ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } }));
      return;
    }
    if (ctx.method === 'GET' && !interaction[2]) {
      ctx.type = 'html';
      ctx.body = loginPage(details.uid, details.params.client_id);
      return;
    }
    if (ctx.method === 'POST' && interaction[2]) {
      const form = new URLSearchParams(await readBody(ctx.req));
      const account = findByLogin(form.get('login'));
      if (!account || (account.password !== undefined && !samePassword(account.password, form.get('password')))) {
        ctx.status = 401;
        ctx.type = 'html';
        ctx.body = loginPage(details.uid, details.params.client_id, 'Wrong login or password');
        return;
      }
      const grantId = await grantAll(details, account.sub);
      const result = { login: { accountId: account.sub }, consent: { grantId } };
      ctx.status = 303;
      ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false }));
      return;
    }
  }
  if (ctx.path === '/__tamper' && ctx.method === 'POST') {
    const wanted = JSON.parse(await readBody(ctx.req)).mode;
    const known = ['none', 'wrong-iss', 'wrong-aud', 'wrong-nonce', 'expired', 'bad-signature'];
    if (!known.includes(wanted)) ctx.throw(400, `mode must be one of ${known.join(', ')}`);
    mode = wanted;
    ctx.body = { mode };
    return;
  }
  if (ctx.path === '/__account' && ctx.method === 'POST') {
    const account = JSON.parse(await readBody(ctx.req));
    if (!accounts.has(account.sub)) ctx.throw(404, 'no such account');
    accounts.set(account.sub, account);
    ctx.body = account;
    return;
  }
  if (ctx.path === '/__stats' && ctx.method === 'GET') {
    ctx.body = { token_responses: tokenResponses, tampered, ended_sessions: endedSessions, mode };
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token) {
    tokenResponses += 1;
    if (mode !== 'none') {
      ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token) };
      tampered += 1;
    }
  }
});

// Token endpoint failures (a replayed or unknown code) on stderr, for the test's log.
provider.on('grant.error', (ctx, error) => console.error(`grant.error: ${error.message} ${error.error_detail ?? ''}`));

const server = https.createServer(
  { cert: readFileSync(config.cert), key: readFileSync(config.key) },
  provider.callback(),
);
server.listen(config.port, '127.0.0.1', () => console.log(`listening on ${config.issuer}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
