// A real OpenID Connect provider for the identity tests: panva's oidc-provider (OpenID
// certified), with one confidential client and the accounts the test passes in. The test
// starts it on a free port (tests/identity/provider.py) and stops it after.
//
//   PORT, ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URIS (space-separated),
//   ACCOUNTS: JSON {"subject": {"name": ..., "id_number": ...}}
// The sign-in page is the test's own: GET /interaction/:uid shows a form; POSTing login=<sub>
// (and acr=<value>, optional) signs that subject in and grants the requested scopes.
import Provider from 'oidc-provider';

const env = process.env;
const accounts = JSON.parse(env.ACCOUNTS || '{}');

const configuration = {
  clients: [{
    client_id: env.CLIENT_ID,
    client_secret: env.CLIENT_SECRET,
    redirect_uris: (env.REDIRECT_URIS || '').split(' ').filter(Boolean),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  acrValues: ['urn:smartcity:mfa', 'urn:smartcity:pwd'],
  scopes: ['openid', 'profile', 'idcard'],
  claims: { openid: ['sub'], profile: ['name'], idcard: ['id_number'], acr: null, amr: null },
  // The claims in the ID token as well, as many government providers do; the platform also
  // reads the userinfo endpoint when they are missing (see ID_TOKEN_CLAIMS below).
  conformIdTokenClaims: env.ID_TOKEN_CLAIMS === 'off',
  features: { devInteractions: { enabled: false } },
  ttl: { AuthorizationCode: 60, IdToken: 300, AccessToken: 300, Interaction: 600, Session: 600, Grant: 600 },
  async findAccount(ctx, sub) {
    const person = accounts[sub];
    if (!person) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, name: person.name, id_number: person.id_number };
      },
    };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['smartcity-test-cookie-key'] },
};

const provider = new Provider(env.ISSUER, configuration);
provider.proxy = false;

function page(uid) {
  return `<!doctype html><html><body><h1>Test identity provider</h1>
<form method="post" action="/interaction/${uid}">
<label>Subject <input id="login" name="login"></label>
<label>acr <input id="acr" name="acr"></label>
<button type="submit" id="sign-in">Sign in</button></form></body></html>`;
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString());
}

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([\w-]+)$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = page(details.uid);
    return undefined;
  }
  const form = await readForm(ctx.req);
  const login = form.get('login');
  if (!accounts[login]) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page(details.uid);
    return undefined;
  }
  const grant = new provider.Grant({ accountId: login, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  const acr = form.get('acr');
  const result = {
    login: { accountId: login, ...(acr ? { acr, amr: ['pwd', 'otp'] } : { amr: ['pwd'] }) },
    consent: { grantId },
  };
  // Koa lets the provider answer the redirect itself.
  ctx.respond = false;
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  return undefined;
});

const server = provider.listen(Number(env.PORT), '127.0.0.1', () => {
  process.stdout.write(`listening ${env.ISSUER}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
