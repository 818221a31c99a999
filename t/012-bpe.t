#!/usr/bin/env perl
# The byte-level BPE's unit cases and its parity with Hugging Face's
# tokenizers on SmolLM2-135M-Instruct's vocabulary (t/fixtures/bpe, written
# by t/lib/gen_bpe_corpus.py), built by `make unit`; its TAP goes straight
# to prove.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_bpe';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
exec $bin or die "exec $bin: $!";
