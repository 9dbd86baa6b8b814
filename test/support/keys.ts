// A fresh ed25519 private key (OpenSSH format) for tests that need a well-formed one.
// ssh2's generateKeyPairSync writes a public key that starts with a zero byte as 31 bytes
// (as if it were an mpint), about 1 key in 300; its own parseKey then refuses the key
// ("Malformed OpenSSH private key"), and so does the provider's check. Such keys are drawn again.
import { utils } from "ssh2";

export function ed25519PrivateKey(): string {
  for (;;) {
    const key = utils.generateKeyPairSync("ed25519").private;
    if (!(utils.parseKey(key) instanceof Error)) return key;
  }
}
