#!/usr/bin/env perl
# The CUDA backend's unit tests, built by `make unit`: loading
# build/ngx_infer_cuda.so, the probe in a child process, the clean failure
# (the CUDA error quoted) where there is no GPU, and, where there is one,
# parity with the reference forward pass in every precision.
use strict;
use warnings;
my $repo = $ENV{TEST_NGINX_REPO} // '.';
my $bin = "$repo/build/test_cuda";
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
-f "$repo/build/ngx_infer_cuda.so"
    or do { print "1..0 # SKIP no build/ngx_infer_cuda.so (no nvcc)\n"; exit 0 };
chdir $repo or die "chdir $repo: $!";
exec $bin or die "exec $bin: $!";
