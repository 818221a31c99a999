#!/usr/bin/env perl
# The KServe JSON codec's unit tests (every valid form, every error message,
# numbers identical to strtod, never a read past the body, shortest floats
# that read back exactly), built by `make unit`.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_kserve';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
exec $bin or die "exec $bin: $!";
