# Spill-over: an edge nginx serves what it can and sends the rest to an
# origin with nginx's own error_page 503 = @origin and proxy_pass.  The
# origin is a second nginx (t/lib/InferOrigin.pm) with the same models
# and queues of its own; every answer says who gave it (X-Served-By).
#
#   - a full queue: a request that finds the edge's only slot taken (by a
#     request of 16 long texts, or a running generation) is answered by
#     the origin, with the body the client sent (JSON, gzip, binary
#     tensors; an OpenAI body the edge decoded to find its model), and
#     the answer is the one the edge gives once it is free;
#   - under load, every request answered 200 with the right result, some
#     by the edge and the rest by the origin;
#   - a model that is not ready (its only executor's worker shutting
#     down) goes to the origin at once, where no error_page is set it
#     waits for an executor; ready again, the edge serves it;
#   - errors other than 503 (a bad body) are the edge's own.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use IO::Socket::INET;
use IO::Compress::Gzip qw(gzip $GzipError);
use Time::HiRes qw(sleep time);
use InferTest;
use InferCheck;
use InferOrigin;

ensure_fixtures();

my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();
my $heavy = fixture_model('heavy') or BAIL_OUT('no heavy fixture');
my $minilm = "$repo/build/models/all-MiniLM-L6-v2";
my $smol = "$repo/build/models/SmolLM2-135M-Instruct.Q4_1.gguf";
my $have_minilm = -d $minilm;
my $have_smol = -f $smol;
my $bound = $InferTest::UseValgrind ? 120 : 30;
my $J = JSON::PP->new->utf8->canonical(1);

my $origin_models = "    infer_model heavy $heavy->{dir} max_batch=64 queue=64;\n"
    . "    infer_model digits $repo/models/digits;\n"
    . ($have_minilm ? "    infer_model minilm $minilm;\n" : '')
    . ($have_smol ? "    infer_model smol $smol kv_cache=16m ctx=256 max_batch=4;\n"
                  : '');

my $oport = start_origin(http_config => $origin_models, config => <<'_EOC_')
        location /v2 { infer_api kserve; add_header X-Served-By origin always; }
        location /v1/ { infer_api openai; add_header X-Served-By origin always; }
_EOC_
    or BAIL_OUT("origin: $InferTest::LastError");

# the edge: one slot a model, so that a second request finds its queue full
my $edge_locations = <<'_EOC_';
    location /v2 {
        infer_api kserve;
        error_page 503 = @origin;
        add_header X-Served-By edge always;
    }
    location /v1/ {
        infer_api openai;
        error_page 503 = @origin;
        add_header X-Served-By edge always;
    }
    location /nospill/ { infer_api kserve; add_header X-Served-By edge always; }
    location @origin {
        proxy_pass http://origin;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }
    location = /metrics { infer_metrics; }
_EOC_

ok(start_nginx(workers => 1, master => 1, log_level => 'info',
               http_config => <<"_EOC_"
    upstream origin { server 127.0.0.1:$oport; keepalive 4; }
    infer_model heavy $heavy->{dir} max_batch=64 queue=1 instances=1;
    infer_model digits $repo/models/digits;
_EOC_
               . ($have_minilm ? "    infer_model minilm $minilm queue=1 instances=1;\n"
                               : '')
               . ($have_smol ? "    infer_model smol $smol kv_cache=16m ctx=256 "
                               . "max_batch=4 queue=1 instances=1;\n" : ''),
               config => $edge_locations),
   'the edge starts') or BAIL_OUT($InferTest::LastError);

sub served { $_[0]{'x-served-by'} // 'nobody' }

sub post {
    my ($uri, $body, $h, %o) = @_;
    my ($st, $hd, $b) = http_request('POST', $uri, $body, $h,
                                     timeout => 20, %o);
    return ($st // 0, $hd // {}, $b // '');
}

sub metric {
    my ($name) = @_;
    my ($st, undef, $b) = http_request('GET', '/metrics');
    return undef unless ($st // 0) == 200;
    return $b =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}

# a request sent, its answer not yet read
sub send_raw {
    my ($uri, $body, $headers) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => nginx_port(), Timeout => 20)
        or die "connect: $!";
    print $s "POST $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
             . ($headers // '') . "Content-Length: " . length($body)
             . "\r\n\r\n" . $body;
    return $s;
}

sub read_all {
    my ($s) = @_;
    local $/;
    my $raw = <$s>;
    close $s;
    return parse_http_response($raw);
}

sub status_of { (http_request('GET', $_[0]))[0] // 0 }

wait_until { status_of('/v2/health/ready') == 200 } $bound;

my $mark = error_log_mark();

# --- not a 503: a bad body is the edge's own 400 ----------------------------

{
    my ($st, $h, $b) = post('/v2/models/digits/infer', '{"inputs": [');
    is($st, 400, 'a bad body: 400');
    is(served($h), 'edge', '... from the edge: error_page takes 503 only');
    like($b, qr/^\{"error":"[^"]+"\}$/, '... the KServe JSON error');
}

# --- a full queue, KServe and OpenAI bodies ------------------------------------

SKIP: {
    skip "no $minilm (make models)", 22 unless $have_minilm;

    my $long = join ' ', ('nginx serves embeddings with batching') x 40;
    my $hold = $J->encode({ model => 'minilm', input => [($long) x 16] });

    my $text = "caf\x{e9} \"spilled\" over";
    my $kserve = $J->encode({ inputs => [{ name => 'text', shape => [1],
                                           datatype => 'BYTES',
                                           data => [$text] }] });
    my $bytes = do { my $t = $text; utf8::encode($t);
                     pack('V', length $t) . $t };
    my $bin_json = '{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],'
                   . '"parameters":{"binary_data_size":' . length($bytes)
                   . '}}]}';
    gzip(\$kserve => \my $gz) or die $GzipError;
    my $oai = $J->encode({ model => 'minilm', input => $text });

    # the edge's one slot taken by 16 long texts: about a second
    my $held = send_raw('/v1/embeddings', $hold);
    ok((wait_until { (metric('ngx_infer_queue_free_slots{model="minilm"}')
                      // 1) == 0 } $bound, 0.002),
       'the 16 long texts hold the edge\'s only slot of minilm');

    my ($st, $h, $b) = post('/v2/models/minilm/infer', $kserve);
    is($st, 200, 'queue full, KServe JSON: 200');
    is(served($h), 'origin', '... from the origin');
    my $from_origin = $b;
    like($b, qr/^\{"model_name":"minilm","model_version":"1","outputs":\[\{"name":"embedding","datatype":"FP32","shape":\[1,384\],"data":\[/,
         '... an embedding');

    ($st, $h, $b) = post('/v2/models/minilm/infer', $gz,
                         { 'Content-Encoding' => 'gzip' });
    is($st, 200, 'queue full, a gzip body: 200');
    is(served($h), 'origin', '... from the origin, which inflated it');
    is($b, $from_origin, '... the same answer: the body went as sent');

    ($st, $h, $b) = post('/v2/models/minilm/infer', $bin_json . $bytes,
                         { 'Inference-Header-Content-Length'
                               => length($bin_json) });
    is($st, 200, 'queue full, binary tensor data: 200');
    is(served($h), 'origin', '... from the origin');
    is($b, $from_origin, '... the same answer');

    ($st, $h, $b) = post('/v1/embeddings', $oai);
    is($st, 200, 'queue full, /v1/embeddings (decoded by the edge to find '
                 . 'its model): 200');
    is(served($h), 'origin', '... from the origin');
    my $oai_origin = $b;
    like($b, qr/^\{"object":"list","data":\[\{"object":"embedding","index":0,"embedding":\[/,
         '... an embedding in OpenAI\'s shape');

    ($st, $h, $b) = post('/nospill/v2/models/minilm/infer', $kserve);
    is($st, 503, 'queue full where no error_page is set: 503');
    is($h->{'retry-after'}, '1', '... with Retry-After');
    is($b, '{"error":"the queue of model \"minilm\" is full, retry later"}',
       '... the edge\'s own JSON error');

    my $r = read_all($held);
    is($r->{code}, 200, 'the 16 texts are answered');
    is($r->header('X-Served-By'), 'edge', '... by the edge');

    # free again: the edge answers, and as the origin did
    ($st, $h, $b) = post('/v2/models/minilm/infer', $kserve);
    is(served($h), 'edge', 'the slot free: the edge answers');
    is($b, $from_origin, '... what the origin answered, bit for bit');
    ($st, $h, $b) = post('/v1/embeddings', $oai);
    is(served($h), 'edge', '/v1/embeddings: the edge answers');
    is($b, $oai_origin, '... what the origin answered, bit for bit');
}

# --- a full queue, chat completions ---------------------------------------------

SKIP: {
    skip "no $smol (make models)", 8 unless $have_smol;

    my $stream = $J->encode({ model => 'smol', stream => JSON::PP::true,
                              max_tokens => 128, ignore_eos => JSON::PP::true,
                              messages => [{ role => 'user',
                                             content => 'Tell a long story.' }] });
    my $greedy = $J->encode({ model => 'smol', temperature => 0,
                              max_tokens => 8,
                              messages => [{ role => 'user',
                                             content => 'What is nginx?' }] });

    # a generation holds the slot from its prompt to its last token: once
    # its first piece of text has come, it is running
    my $held = send_raw('/v1/chat/completions', $stream);
    my $seen = '';
    my $t0 = time;
    while (time < $t0 + $bound && $seen !~ /"content":"[^"]/) {
        my $n = sysread($held, my $buf, 4096);
        last unless $n;
        $seen .= $buf;
    }
    like($seen, qr/"content":"[^"]/, 'a stream runs on the edge\'s only slot '
                                     . 'of smol');

    my ($st, $h, $b) = post('/v1/chat/completions', $greedy);
    is($st, 200, 'queue full, /v1/chat/completions: 200');
    is(served($h), 'origin', '... from the origin');
    my $c = eval { $J->decode($b)->{choices}[0]{message}{content} };
    ok(defined $c && length $c, '... with an answer') or diag($b);

    {
        local $/;
        $seen .= <$held> // '';
        close $held;
    }
    like($seen, qr/data: \[DONE\]\r?\n/, 'the stream ends with [DONE]');
    like($seen, qr/X-Served-By: edge/, '... from the edge');

    ($st, $h, $b) = post('/v1/chat/completions', $greedy);
    is(served($h), 'edge', 'the slot free: the edge answers the chat');
    is(eval { $J->decode($b)->{choices}[0]{message}{content} }, $c,
       '... the same greedy text as the origin');
}

# --- under load: every request answered, by one or the other ----------------------

{
    my @bodies = map {
        my $seed = $_;
        $J->encode({ inputs => [{ name => 'input', shape => [8, 1024],
                                  datatype => 'FP32',
                                  data => [map { (($_ * $seed) % 11) / 11 }
                                               1 .. 8 * 1024] }] })
    } 1 .. 4;

    # the reference: each body alone, from the origin itself
    my @ref = map {
        my ($st, undef, $b) = http_request('POST', '/v2/models/heavy/infer',
                                           $_, undef, port => $oport,
                                           timeout => 20);
        $J->decode($b // '{}')
    } @bodies;

    my $res = parallel_clients(clients => 6, requests => 4, timeout => 30,
        request => sub {
            my ($c, $i) = @_;
            return ['POST', '/v2/models/heavy/infer', $bodies[($c + $i) % 4]];
        });

    my (%by, $right);
    $right = 0;
    for my $r (@$res) {
        $by{ $r->{headers}{'x-served-by'} // 'nobody' }++;
        next unless ($r->{status} // 0) == 200;
        my $exp = $ref[($r->{client} + $r->{seq}) % 4];
        my $got = eval { $J->decode($r->{body}) } or next;
        $right++ unless defined json_cmp($got, $exp, rtol => 1e-4,
                                         atol => 1e-5);
    }
    is(scalar(grep { ($_->{status} // 0) == 200 } @$res), 24,
       'under load: 24 requests, 24 answered 200') or diag(explain \%by);
    is($right, 24, '... each with the right outputs');
    ok($by{edge}, "... some by the edge (" . ($by{edge} // 0) . ")");
    ok($by{origin}, "... the rest by the origin (" . ($by{origin} // 0) . ")");
    is(($by{edge} // 0) + ($by{origin} // 0), 24, '... and no one else');
}

my @log = error_log_lines($mark);
ok((grep { /\[info\].*queue of model "heavy" is full \(1 requests\), the request goes to error_page/ } @log),
   'a spilled request is an [info] line, not a [warn]');
is(scalar(grep { /\[warn\].*is full/ } @log), $have_minilm ? 1 : 0,
   '... a [warn] only for the one answered 503 (where no error_page is set)');
ok(!(grep { /\[(alert|crit|emerg)\]/ } @log), 'the edge: no [alert]')
    or diag(grep { /\[(alert|crit|emerg)\]/ } @log);

# --- a model that is not ready ------------------------------------------------------

# two workers, one executor (in the first): that worker, told to quit,
# stops its executor counting as ready at once and drains it for
# infer_timeout (the other worker may still have requests for it), then
# exits and is replaced; meanwhile the other worker serves alone
ok(start_nginx(workers => 2, master => 1, log_level => 'info',
               http_config => <<"_EOC_",
    upstream origin { server 127.0.0.1:$oport; keepalive 4; }
    infer_model digits $repo/models/digits instances=1;
    infer_timeout 3s;
_EOC_
               config => $edge_locations),
   'the edge starts with two workers and one executor')
    or BAIL_OUT($InferTest::LastError);

{
    my $example = do { local (@ARGV, $/) = "$repo/models/digits/example-request.json"; <> };
    my $host;
    wait_until {
        my @l = grep { /executor 0 of model "digits" started/ }
                     error_log_lines(0);
        $host = $1 if @l && $l[-1] =~ /\] (\d+)#/;
        $host && status_of('/v2/health/ready') == 200;
    } $bound;
    ok($host, "the executor runs in worker " . ($host // '?'));

    my ($st, $h, $ready_answer) = post('/v2/models/digits/infer', $example);
    is(served($h), 'edge', 'ready: the edge answers');

    my $mark = error_log_mark();
    kill 'QUIT', $host;
    ok((wait_until { status_of('/v2/models/digits/ready') == 503 }
                   $bound, 0.01),
       'its worker quits: the model is not ready (the other worker says)');

    ($st, $h, my $b) = post('/v2/models/digits/infer', $example);
    is($st, 200, 'not ready: 200');
    is(served($h), 'origin', '... from the origin');
    is($b, $ready_answer, '... the same answer');

    ($st, $h, $b) = post('/nospill/v2/models/digits/infer', $example);
    is($st, 200, 'not ready where no error_page is set: the request waits '
                 . 'for an executor (the draining one)');
    is(served($h), 'edge', '... the edge\'s');

    ($st, $h, $b) = post('/v2/models/digits/infer', '{"inputs": [');
    is(served($h), 'origin', 'not ready: even a bad body goes to the origin '
                             . '(readiness is known before the body is '
                             . 'decoded)');
    is($st, 400, '... which says what is wrong with it');

    ok((wait_until { status_of('/v2/models/digits/ready') == 200 }
                   $bound, 0.05),
       'a new worker\'s executor: ready again');
    ($st, $h, $b) = post('/v2/models/digits/infer', $example);
    is(served($h), 'edge', 'ready again: the edge answers');
    is($b, $ready_answer, '... the same answer');

    my @log = error_log_lines($mark);
    ok((grep { /\[info\].*model "digits" is not ready, the request goes to error_page/ } @log),
       'the spilled request is an [info] line');
    ok(!(grep { /\[(alert|crit|emerg)\]/ } @log), 'no [alert]')
        or diag(grep { /\[(alert|crit|emerg)\]/ } @log);
}

ok(!(grep { /\[(alert|crit|emerg)\]/ } origin_error_log()), 'the origin: no [alert]');

done_testing();
