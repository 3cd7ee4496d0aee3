// Status (status.h), the core's error value: errno in and out, and the
// kind that prefixes every message.
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <string>

#include "remapfs/status.h"

using namespace remapfs;

TEST_CASE("givenErrno_whenConverted_thenKindAndErrnoAreKept", "[status]") {
  struct Case {
    int err;
    Status::Code code;
    int errno_value;
  };
  const Case cases[] = {
      {ENOSPC, Status::Code::kNoSpace, ENOSPC},
      {EINVAL, Status::Code::kInvalidArgument, EINVAL},
      {EBUSY, Status::Code::kBusy, EBUSY},
      {EWOULDBLOCK, Status::Code::kBusy, EBUSY},
      {EACCES, Status::Code::kPermission, EACCES},
      {EPERM, Status::Code::kPermission, EPERM},
      {ENOENT, Status::Code::kNotFound, ENOENT},
      {EOPNOTSUPP, Status::Code::kNotSupported, EOPNOTSUPP},
      {EIO, Status::Code::kIoError, EIO},
      {EROFS, Status::Code::kIoError, EROFS},
      {0, Status::Code::kIoError, EIO},
  };
  for (const Case& c : cases) {
    CAPTURE(c.err);
    Status st = Status::FromErrno(c.err, "read x at 4096");
    REQUIRE(st.code() == c.code);
    REQUIRE(st.errno_value() == c.errno_value);
    REQUIRE_FALSE(st.ok());
    REQUIRE(st.message().rfind("read x at 4096: ", 0) == 0);
  }
  REQUIRE(Status::FromErrno(EIO, "read x").message() ==
          std::string("read x: ") + std::strerror(EIO));
}

TEST_CASE("givenStatuses_whenFormatted_thenKindPrefixesMessage", "[status]") {
  REQUIRE(Status().ToString() == "ok");
  REQUIRE(Status::Ok().errno_value() == 0);
  REQUIRE(Status::IoError("disk gone").ToString() == "I/O error: disk gone");
  REQUIRE(Status::InvalidArgument("bad").ToString() == "invalid argument: bad");
  REQUIRE(Status::NoSpace("full").ToString() == "no space: full");
  REQUIRE(Status::Corruption("crc").ToString() == "corruption: crc");
  Status wrapped = Status::NoSpace("full").WithContext("add_bad");
  REQUIRE(wrapped.message() == "add_bad: full");
  REQUIRE(wrapped.IsNoSpace());
  REQUIRE(wrapped.errno_value() == ENOSPC);
  REQUIRE(Status::Ok().WithContext("x").ok());
}
