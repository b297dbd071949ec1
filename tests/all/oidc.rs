//! OpenID Connect single sign-on against a real provider: the certified `oidc-provider`
//! from npm on loopback (tests/support/oidc.rs), PrintPark as the relying party.

mod provider;
