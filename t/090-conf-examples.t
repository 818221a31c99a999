# Every file in conf-examples/ is a complete nginx.conf a user can start
# from: each passes nginx -t as it is (prefix: the repository), then runs
# (its ports, pid and log paths moved into the test prefix) and serves
# what its comments promise.  All but debian.conf, what the Debian
# package's /etc/nginx/conf.d/ holds: here it is included in the http
# block of a stand-in for Debian's nginx.conf; t/195-deb.t runs it in
# Debian's own, with the package installed.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use File::Path ();
use InferTest;
use InferCheck;
use InferOrigin;

ensure_fixtures();

my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();
my $module = $ENV{TEST_NGINX_LOAD_MODULES} || "$repo/build/ngx_http_infer_module.so";
my $root = InferTest::server_root();
my $port = nginx_port();

my @files = sort glob("$repo/conf-examples/*.conf");
cmp_ok(scalar @files, '>=', 2, 'conf-examples/ holds the examples');

my %checked;

# SmolLM2's chat requests: a ~30-token prompt and 8 tokens take a second
# natively and minutes under memcheck, where the stream's headers wait
# for the first token past the harness's 30 s idle timeout
my @gen = $InferTest::UseValgrind ? (timeout => 900) : ();

sub slurp { local (@ARGV, $/) = @_; <> }

# the example as it is, with the repository as nginx's prefix (nginx -t
# wants the pid file's directory, which `make run` makes)
File::Path::make_path("$repo/build/run");
for my $f (@files) {
    my $name = $f =~ s{.*/}{}r;
    next if $name eq 'debian.conf';
    my $out = `/usr/sbin/nginx -t -p $repo/ -c $f -g 'error_log stderr;' 2>&1`;
    my $st = $?;
    # nginx -t still wants to write the pid path's directory
    is($st, 0, "$name: nginx -t") or diag($out);
}

# the example run for real, moved into the test prefix
sub start_example {
    my ($f, %o) = @_;
    my $conf = slurp($f);
    $conf =~ s{load_module\s+\S+;}{load_module $module;};
    $conf =~ s{^(\s*pid\s+)\S+;}{${1}logs/nginx.pid;}m;
    $conf =~ s{^(\s*error_log\s+)\S+}{${1}logs/error.log}m;
    $conf =~ s{build/run/}{$root/logs/}g;
    $conf =~ s{(\s)build/models/}{$1$repo/build/models/}g;
    $conf =~ s{(\s)models/}{$1$repo/models/}g;
    $conf =~ s{listen\s+\d+;}{listen 127.0.0.1:$port;}g;
    $conf =~ s{server\s+127\.0\.0\.1:8090;}{server 127.0.0.1:$o{origin};}
        if $o{origin};
    # under memcheck SmolLM2's first token comes minutes after the
    # request, past the infer_timeout an example sets (or the default 30 s)
    if ($InferTest::UseValgrind && $conf =~ /\.gguf\b/) {
        $conf =~ s{(\sinfer_timeout\s+)\S+;}{${1}900s;}g
            or $conf =~ s{^(\s*http\s*\{)}{$1\n    infer_timeout 900s;}m;
    }
    return start_nginx(conf => $conf);
}

my ($req, $exp) = ref_kserve("$repo/models/digits", rows => 3, seed => 11,
                             dist => 'digits', name => 'digits',
                             version => '1');

# --- quickstart.conf -----------------------------------------------------------

{
    ok(start_example("$repo/conf-examples/quickstart.conf"),
       'quickstart.conf starts') or diag($InferTest::LastError);
    # SmolLM2's one executor is in one of the two workers: the other
    # answers ready once it is up
    my ($st, $b);
    wait_until { ($st) = http_request('GET', '/v2/health/ready');
                 $st == 200 } $InferTest::UseValgrind ? 300 : 20;
    is($st, 200, 'quickstart: ready');
    ($st, undef, $b) = http_request('POST', '/v2/models/digits/infer', $req);
    is($st, 200, 'quickstart: infer');
    is(json_cmp(decode_json($b), decode_json($exp)), undef,
       'quickstart: the answer equals the reference');

    my $example = slurp("$repo/models/digits/example-request.json");
    ($st, undef, $b) = http_request('POST', '/v2/models/digits/infer',
                                    $example);
    is($st, 200, 'quickstart: the README\'s example request');
    # the curl line make run prints
    ($st, undef, $b) = http_request('POST', '/v1/embeddings',
        '{"model": "minilm", "input": "nginx serves embeddings"}');
    is($st, 200, 'quickstart: /v1/embeddings');
    my $e = eval { decode_json($b) } // {};
    is(scalar @{ $e->{data}[0]{embedding} // [] }, 384,
       'quickstart: a 384-dimensional embedding');
    my $norm = 0;
    $norm += $_ * $_ for @{ $e->{data}[0]{embedding} // [] };
    ok(abs(sqrt($norm) - 1) < 1e-5, 'quickstart: of unit length');
    ($st, undef, $b) = http_request('GET', '/metrics');
    like($b, qr/^ngx_infer_inference_request_success\{model="digits",version="1"\} 2$/m,
         'quickstart: /metrics counts the two answers');
    like($b, qr/^ngx_infer_inference_token_count\{model="minilm",version="1"\} 10$/m,
         'quickstart: /metrics counts the ten tokens of the embedding (HF tokenizers: 10)');
    # the streaming curl line make run prints
    ($st, undef, $b) = http_request('POST', '/v1/chat/completions',
        '{"model": "smollm2", "stream": true, "max_tokens": 8, '
        . '"messages": [{"role": "user", "content": "What is nginx?"}]}',
        {}, @gen);
    is($st, 200, 'quickstart: /v1/chat/completions streams');
    my @ev = $b =~ /^data: (.*)$/mg;
    is($ev[-1], '[DONE]', 'quickstart: ... events up to [DONE]');
    ok(@ev >= 3 && $ev[0] =~ /"object":"chat\.completion\.chunk"/,
       'quickstart: ... of chat.completion.chunk') or diag($b);
    $checked{'quickstart.conf'} = 1;
    stop_nginx();
}

# --- ab-routing.conf -----------------------------------------------------------

{
    ok(start_example("$repo/conf-examples/ab-routing.conf"),
       'ab-routing.conf starts') or diag($InferTest::LastError);

    my %seen;
    for my $v (qw(v1 v2)) {
        my ($st, undef, $b) = http_request('POST', '/score', $req,
                                           { 'X-Model-Version' => $v });
        is($st, 200, "ab-routing: X-Model-Version: $v answers");
        my $doc = decode_json($b);
        $seen{$v} = $doc->{model_name};
        is(json_cmp($doc, { %{ decode_json($exp) },
                            model_name => $doc->{model_name} }), undef,
           "ab-routing: $v equals the reference");
    }
    is($seen{v1}, 'digits', 'ab-routing: v1 is digits');
    is($seen{v2}, 'digits_v2', 'ab-routing: v2 is digits_v2');

    # without the header, split_clients decides: both versions get traffic
    my %split;
    for my $i (1 .. 60) {
        my ($st, undef, $b) = http_request('POST', '/score', $req,
                                           { 'User-Agent' => "client-$i" });
        $split{ decode_json($b)->{model_name} }++ if $st == 200;
    }
    is(($split{digits} // 0) + ($split{digits_v2} // 0), 60,
       'ab-routing: 60 answers split between the versions');
    ok($split{digits} && $split{digits_v2},
       "ab-routing: both versions served (digits $split{digits}, "
       . "digits_v2 " . ($split{digits_v2} // 0) . ')');

    my @log = grep { /model=/ } slurp_lines("$root/logs/ab-access.log");
    like($log[0], qr{"POST /score HTTP/1\.1" 200 model=digits batch=\d+ queue=\d+\.\d{3} compute=\d+\.\d{3}},
         'ab-routing: the access log names model and batch') or diag("log: @log[0 .. 1]");
    $checked{'ab-routing.conf'} = 1;
    stop_nginx();
}

# --- embeddings.conf -----------------------------------------------------------

{
    ok(start_example("$repo/conf-examples/embeddings.conf"),
       'embeddings.conf starts') or diag($InferTest::LastError);
    my ($st, undef, $b) = http_request('POST', '/v1/embeddings',
        '{"model": "minilm", "input": ["first text", "second text"]}');
    is($st, 200, 'embeddings: the comment\'s curl answers');
    my $e = eval { decode_json($b) } // {};
    is(scalar @{ $e->{data} // [] }, 2, 'embeddings: two embeddings');
    is($e->{usage}{prompt_tokens}, 8, 'embeddings: 8 tokens in usage');

    # the limits: 65 texts, a body over 256k, both refused
    ($st, undef, $b) = http_request('POST', '/v1/embeddings',
        '{"model": "minilm", "input": [' . join(',', ('"x"') x 65) . ']}');
    is($st, 400, 'embeddings: 65 texts are more than max_batch');
    like($b, qr/"param":"input"/, 'embeddings: ... about the input');
    ($st, undef, $b) = http_request('POST', '/v1/embeddings',
        '{"model": "minilm", "input": "' . ('word ' x 60000) . '"}');
    is($st, 413, 'embeddings: a body over client_max_body_size');
    like($b, qr/^\{"error":\{"message":"request body is larger than client_max_body_size 262144","type":"invalid_request_error","param":null,"code":null\}\}$/,
         'embeddings: ... in OpenAI\'s error shape');

    ($st, undef, $b) = http_request('GET', '/metrics');
    like($b, qr/^ngx_infer_batch_tokens_count\{model="minilm"\} 1$/m,
         'embeddings: /metrics has the batch-tokens histogram');
    my @log = grep { /tokens=/ } slurp_lines("$root/logs/embeddings-access.log");
    like($log[0], qr{"POST /v1/embeddings HTTP/1\.1" 200 \d+ tokens=8 batch=2 queue=\d+\.\d{3} compute=\d+\.\d{3}},
         'embeddings: the access log has the tokens') or diag("log: @log");
    $checked{'embeddings.conf'} = 1;
    stop_nginx();
}

# --- chat.conf -------------------------------------------------------------------

{
    ok(start_example("$repo/conf-examples/chat.conf"),
       'chat.conf starts') or diag($InferTest::LastError);
    my $body = '{"model": "smollm2", "stream": true, "max_tokens": 8, '
               . '"messages": [{"role": "user", "content": "What is nginx?"}]}';

    # auth_request refuses before the body is read
    my ($st, undef, $b) = http_request('POST', '/v1/chat/completions', $body);
    is($st, 401, 'chat: no API key, 401');
    like($b, qr/^\{"error":\{"message":"authentication required: no valid API key","type":"invalid_request_error","param":null,"code":null\}\}$/,
         'chat: ... in OpenAI\'s error shape');
    ($st, undef, $b) = http_request('POST', '/v1/chat/completions', $body,
        { Authorization => 'Bearer sk-wrong' });
    is($st, 401, 'chat: a wrong API key, 401');

    # the comment's curl
    ($st, my $h, $b) = http_request('POST', '/v1/chat/completions', $body,
        { Authorization => 'Bearer sk-edge-demo' }, @gen);
    is($st, 200, 'chat: the comment\'s curl streams');
    my @ev = $b =~ /^data: (.*)$/mg;
    is($ev[-1], '[DONE]', 'chat: ... events up to [DONE]');
    like($ev[-2] // '', qr/"finish_reason":"length"/,
         'chat: ... the last chunk ends with max_tokens') or diag($b);

    # max_tokens of the configuration: 512 at most by default, the
    # context's limit when asked for more than the context holds
    ($st, undef, $b) = http_request('POST', '/v1/chat/completions',
        '{"model": "smollm2", "max_tokens": 4000, "messages": '
        . '[{"role": "user", "content": "hi"}]}',
        { Authorization => 'Bearer sk-edge-demo' });
    is($st, 400, 'chat: max_tokens past ctx=2048 is refused');
    like($b, qr/"code":"context_length_exceeded"/, 'chat: ... as OpenAI does');

    ($st, undef, $b) = http_request('GET', '/metrics');
    like($b, qr/^ngx_infer_generation_tokens\{model="smollm2"\} 8$/m,
         'chat: /metrics counts the 8 generated tokens');
    # the executor frees a finished stream's blocks after its last token
    # went out: wait for it
    wait_until { (undef, undef, $b) = http_request('GET', '/metrics');
                 $b =~ /^ngx_infer_kv_blocks_free\{model="smollm2"\} 182$/m };
    like($b, qr/^ngx_infer_kv_blocks_free\{model="smollm2"\} 182$/m,
         'chat: /metrics: all 182 KV blocks free again');
    my @log = grep { /tokens=/ } slurp_lines("$root/logs/chat-access.log");
    ok((grep { m{"POST /v1/chat/completions HTTP/1\.1" 401 } } @log)
       && (grep { m{"POST /v1/chat/completions HTTP/1\.1" 400 } } @log),
       'chat: the access log has the refusals') or diag("log: @log");
    ok((grep { m{" 200 \d+ tokens=\d+ } } @log),
       'chat: ... with the tokens of the streamed one') or diag("log: @log");
    $checked{'chat.conf'} = 1;
    stop_nginx();
}

# --- spillover.conf ---------------------------------------------------------------

{
    # the origin: another nginx with the same model
    my $oport = start_origin(
        http_config => "    infer_model digits $repo/models/digits;\n",
        config => "        location /v2 { infer_api kserve; }\n");
    ok($oport, 'spillover: an origin starts') or diag($InferTest::LastError);
    ok(start_example("$repo/conf-examples/spillover.conf", origin => $oport),
       'spillover.conf starts') or diag($InferTest::LastError);

    # the comment's curl
    my $example = slurp("$repo/models/digits/example-request.json");
    my ($st, $h, $b) = http_request('POST', '/v2/models/digits/infer',
                                    $example);
    is($st, 200, 'spillover: the comment\'s curl answers');
    is($h->{'x-served-by'}, 'edge', 'spillover: ... from the edge');

    # more than the edge's 100 requests a second: the rest to the origin,
    # every answer the same
    my $res = parallel_clients(clients => 6, requests => 5, request =>
                               ['POST', '/v2/models/digits/infer', $req]);
    my (%by, $right);
    $right = 0;
    for my $r (@$res) {
        $by{ $r->{headers}{'x-served-by'} // 'nobody' }++;
        $right++ if ($r->{status} // 0) == 200
                    && !defined json_cmp(eval { decode_json($r->{body}) },
                                         decode_json($exp));
    }
    is($right, 30, 'spillover: 30 requests at once, 30 right answers')
        or diag(explain \%by);
    ok($by{edge} && $by{origin},
       "spillover: from the edge ($by{edge}) and the origin ("
       . ($by{origin} // 0) . ')');

    # not a 503: a bad body is the edge's own (once under the rate again)
    select(undef, undef, undef, 0.1);
    ($st, $h, $b) = http_request('POST', '/v2/models/digits/infer',
                                 '{"inputs": [');
    is($st, 400, 'spillover: a bad body, 400');
    is($h->{'x-served-by'}, 'edge', 'spillover: ... from the edge');

    my @log = slurp_lines("$root/logs/spillover-access.log");
    ok((grep { m{" 200 origin=127\.0\.0\.1:$oport batch=- } } @log)
       && (grep { m{" 200 origin=- batch=\d+ } } @log),
       'spillover: the access log says which answered') or diag("log: @log");
    $checked{'spillover.conf'} = 1;
    stop_nginx();
    stop_origin();
}

# --- debian.conf -----------------------------------------------------------------

{
    # Debian's nginx.conf loads the module through modules-enabled/ and
    # includes conf.d/*.conf in its http block; the model where the file
    # says the administrator copied it, here the repository's
    my $conf = slurp("$repo/conf-examples/debian.conf");
    like($conf, qr{^infer_model\s+digits\s+/srv/models/digits\s}m,
         'debian.conf: digits from /srv/models/digits');
    $conf =~ s{/srv/models/digits}{$repo/models/digits}g;
    $conf =~ s{listen\s+\d+;}{listen 127.0.0.1:$port;}g;
    ok(start_nginx(
           conf => "load_module $module;\n"
                   . "worker_processes 2;\n"
                   . "pid logs/nginx.pid;\n"
                   . "error_log logs/error.log;\n"
                   . "events { worker_connections 768; }\n"
                   . "http {\n"
                   . "    access_log logs/access.log;\n"
                   . "    client_body_temp_path logs/body;\n"
                   . "    include $root/conf/infer.conf;\n"
                   . "}\n",
           user_files => [["$root/conf/infer.conf", $conf]]),
       'debian.conf starts, included in the http block')
        or diag($InferTest::LastError);
    my ($st, undef, $b) = http_request('POST', '/v2/models/digits/infer',
                                       $req);
    is($st, 200, 'debian.conf: infer');
    is(json_cmp(decode_json($b), decode_json($exp)), undef,
       'debian.conf: the answer equals the reference');
    ($st, undef, $b) = http_request('GET', '/metrics');
    like($b, qr/^ngx_infer_inference_request_success\{model="digits",version="1"\} 1$/m,
         'debian.conf: /metrics counts it');
    $checked{'debian.conf'} = 1;
    stop_nginx();
}

sub slurp_lines { open my $f, '<', $_[0] or return (); <$f> }

for my $f (@files) {
    my $name = $f =~ s{.*/}{}r;
    ok($checked{$name}, "$name is exercised by this test");
}

done_testing();
