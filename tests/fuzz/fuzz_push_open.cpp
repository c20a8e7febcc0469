// libFuzzer target for sealed push: opening arbitrary input (raw or base64url text) must never crash,
// never read out of bounds and never succeed for input that was not sealed for the key; sealing arbitrary
// message text must never crash, and whatever it seals must open to a message with the same id.
//   cmake -S . -B build/fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang -DSEALPOST_FUZZ=ON \
//         -DSEALPOST_BUILD_TESTS=OFF && cmake --build build/fuzz --target fuzz_push_open
//   build/fuzz/fuzz_push_open tests/fuzz/corpus/push_open -max_total_time=60
#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/push.hpp"
#include "core/sodium_init.hpp"

namespace {

struct Keys {
  sealpost::SecretBytes device{64};
  sealpost::SecretBytes signer{64};
  sealpost::Bytes signer_public = sealpost::Bytes(32);
  Keys() {
    sealpost::ensure_sodium();
    std::uint8_t seed[32] = {1};
    crypto_box_seed_keypair(device.data() + 32, device.data(), seed);
    seed[0] = 2;
    crypto_sign_seed_keypair(signer_public.data(), signer.data(), seed);
  }
};

const Keys& keys() {
  static const Keys k;
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sealpost;
  const Keys& k = keys();
  const push::RecipientKey recipients[] = {{k.device.view()}};
  const ByteView signers[] = {k.signer_public};
  const ByteView input(data, size);

  push::OpenOptions options;
  options.recipients = recipients;
  options.now = 1700000000;
  push::Opened opened;
  // Nothing the fuzzer writes is sealed for the device (it would have to break crypto_box_seal).
  if (push::open(input, options, opened) == Status::ok) std::abort();
  options.trusted_signers = signers;
  if (push::open(input, options, opened) == Status::ok) std::abort();

  // The input as a message: seal (signed) and open again.
  push::SealOptions seal;
  seal.recipient_public_key = k.device.view().subspan(32);
  seal.signer = &k.signer;
  seal.now = 1700000000;
  Bytes envelope;
  std::size_t needed = 0;
  if (push::seal(std::string_view(reinterpret_cast<const char*>(data), size), seal, envelope, needed) == Status::ok) {
    const Status s = push::open(envelope, options, opened);
    // A sealed message opens, unless its own iat/ttl put it outside the time window.
    if (s != Status::ok && s != Status::not_yet_valid && s != Status::expired) std::abort();
    if (envelope.size() > seal.max_envelope_bytes) std::abort();
  }
  return 0;
}
