#include "codec/aes_gcm.hpp"

#include <cstring>

#include <cryptopp/aes.h>
#include <cryptopp/gcm.h>
#include <cryptopp/osrng.h>

#include "codec/byte_writer.hpp"
#include "codec/format.hpp"

namespace ember::codec {

struct aes_gcm::impl {
  CryptoPP::GCM<CryptoPP::AES>::Encryption enc;
  CryptoPP::GCM<CryptoPP::AES>::Decryption dec;
  CryptoPP::AutoSeededRandomPool rng;
  unsigned char nonce[nonce_size] = {};
  uint32_t counter = 0;

  void new_prefix() {
    rng.GenerateBlock(nonce, 8);
    counter = 0;
  }
};

aes_gcm::aes_gcm(const encryption_key& key) : impl_(std::make_unique<impl>()) {
  const auto& k = key.bytes();
  unsigned char iv[nonce_size] = {};
  impl_->enc.SetKeyWithIV(k.data(), k.size(), iv, sizeof(iv));
  impl_->dec.SetKeyWithIV(k.data(), k.size(), iv, sizeof(iv));
  impl_->new_prefix();
}

aes_gcm::~aes_gcm() = default;
aes_gcm::aes_gcm(aes_gcm&&) noexcept = default;
aes_gcm& aes_gcm::operator=(aes_gcm&&) noexcept = default;

void aes_gcm::seal(std::string& out, std::string_view plaintext) {
  auto& s = *impl_;
  if (s.counter == UINT32_MAX)
    s.new_prefix();
  ++s.counter;
  std::memcpy(s.nonce + 8, &s.counter, 4);
  seal_with_nonce(out,
                  std::string_view{reinterpret_cast<char*>(s.nonce),
                                   nonce_size},
                  plaintext);
}

void aes_gcm::seal_with_nonce(std::string& out, std::string_view nonce12,
                              std::string_view plaintext) {
  auto ct_len = plaintext.size() + gcm_tag_size;
  out.append(nonce12.data(), nonce_size);
  put_u32(out, static_cast<uint32_t>(ct_len));
  auto pos = out.size();
  out.resize(pos + ct_len);
  auto dst = reinterpret_cast<CryptoPP::byte*>(out.data() + pos);
  impl_->enc.EncryptAndAuthenticate(
    dst, dst + plaintext.size(), gcm_tag_size,
    reinterpret_cast<const CryptoPP::byte*>(nonce12.data()), nonce_size,
    nullptr, 0, reinterpret_cast<const CryptoPP::byte*>(plaintext.data()),
    plaintext.size());
}

bool aes_gcm::open(std::string_view nonce12, std::string_view ciphertext,
                   std::string& out) {
  if (ciphertext.size() < gcm_tag_size || nonce12.size() != nonce_size)
    return false;
  auto pt_len = ciphertext.size() - gcm_tag_size;
  out.resize(pt_len);
  auto ct = reinterpret_cast<const CryptoPP::byte*>(ciphertext.data());
  return impl_->dec.DecryptAndVerify(
    reinterpret_cast<CryptoPP::byte*>(out.data()), ct + pt_len, gcm_tag_size,
    reinterpret_cast<const CryptoPP::byte*>(nonce12.data()), nonce_size,
    nullptr, 0, ct, pt_len);
}

} // namespace ember::codec
