// The node:crypto X25519 identity unwraps exactly what age-encryption's own identity unwraps, and
// returns null (not an error) for files addressed to another key.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { NativeX25519Identity } from '../../src/sops/native-x25519.js';

t.test('decrypts 50 random age files exactly like the pure-JS identity, across key pairs', async (t) => {
  for (let i = 0; i < 50; i++) {
    const identity = await generateX25519Identity();
    const other = await generateX25519Identity();
    const encrypter = new Encrypter();
    encrypter.addRecipient(await identityToRecipient(other));
    encrypter.addRecipient(await identityToRecipient(identity));
    const payload = randomBytes(1 + (i % 40));
    const file = await encrypter.encrypt(payload);
    const native = new Decrypter();
    native.addIdentity(new NativeX25519Identity(identity));
    const reference = new Decrypter();
    reference.addIdentity(identity);
    t.same(Buffer.from(await native.decrypt(file)), Buffer.from(await reference.decrypt(file)), `file ${i}`);
  }
});

t.test('a file for another key is not unwrapped (null from the identity, error from the decrypter)', async (t) => {
  const identity = await generateX25519Identity();
  const stranger = await generateX25519Identity();
  const encrypter = new Encrypter();
  encrypter.addRecipient(await identityToRecipient(stranger));
  const file = await encrypter.encrypt(new Uint8Array([1, 2, 3]));
  const decrypter = new Decrypter();
  decrypter.addIdentity(new NativeX25519Identity(identity));
  await t.rejects(decrypter.decrypt(file));
});

t.test('refuses a string that is not an X25519 age identity', async (t) => {
  t.throws(() => new NativeX25519Identity('AGE-SECRET-KEY-1QQQQ'));
  t.throws(() => new NativeX25519Identity('age1rte33srke77drx468jvu9fp0qnp0cm8mtckmm8jj2n3xudrle56sycg08z'));
});
