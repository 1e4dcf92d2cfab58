// A real OpenID Connect provider (the certified `oidc-provider` package) for Apex's provider
// sign-in tests, on loopback. Started by the test fixture with:
//   IDP_PORT      port to listen on (127.0.0.1)
//   IDP_CLIENTS   JSON array of {client_id, client_secret, redirect_uris}
//   IDP_ACCOUNTS  JSON object login -> {email, email_verified, name}; an unknown login signs in
//                 as <login>@example.test, verified
//   IDP_KID       the kid of the RSA signing key generated at start (a restart with another kid
//                 is a key rollover)
// Sign-in uses the package's development interactions: a login form (any login, any password)
// then a consent form. Prints "ready <issuer>" once listening.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.IDP_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.IDP_CLIENTS ?? '[]');
const accounts = JSON.parse(process.env.IDP_ACCOUNTS ?? '{}');
const kid = process.env.IDP_KID ?? 'idp-key-1';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({
    ...c,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  jwks: { keys: [jwk] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // The email claims go into the id_token, as Google does, not only to the userinfo endpoint.
  conformIdTokenClaims: false,
  findAccount: async (_ctx, id) => {
    const account = accounts[id] ?? { email: `${id}@example.test`, email_verified: true };
    return { accountId: id, claims: async () => ({ sub: id, ...account }) };
  },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ['apex-test-idp-cookie-key'] },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
