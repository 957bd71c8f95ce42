#pragma once

#include <string>
#include <utility>
#include <variant>

namespace certguard {

// A failure with a message meant for an operator, e.g. "policy.yaml:4:7: unknown key 'rulez'".
struct Error {
  std::string message;
};

// A value or the Error that prevented it. std::expected is C++23; this is the small part we need.
template <typename T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  const T& value() const& { return std::get<T>(state_); }
  T& value() & { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

}  // namespace certguard
