#!/usr/bin/env perl
# The Llama architecture from Hugging Face directories: each broken
# directory refused with its exact message; the random F32, F16 and BF16
# models of t/lib/gen_llama.py as directories (t/fixtures/llama/hf),
# their last-token logits against the same float64 reference and within
# 1e-5 of the GGUF files of the same weights; their tokenizer, chat
# template and end ids; built by `make unit`, its TAP goes straight to
# prove.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_llama_hf';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
my $fix = ($ENV{TEST_NGINX_FIXTURES} // 't/fixtures') . '/llama';
-f "$fix/manifest.json"
    or do { print "1..0 # SKIP no $fix/manifest.json (make fixtures)\n";
            exit 0 };
exec $bin, $fix or die "exec $bin: $!";
