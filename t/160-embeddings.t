# Text embeddings over real HTTP, against the references of
# t/lib/gen_bert.py (t/fixtures/bert: sentence-transformers' embeddings,
# or numpy's float64 BertModel, of ids that Hugging Face `tokenizers`
# gave): all-MiniLM-L6-v2 and every random BERT model, through OpenAI's
# POST /v1/embeddings (one text a request, many, very different lengths
# together, base64, dimensions=N, token ids) and KServe v2's BYTES input,
# then many clients at once on two workers, so that batches mix requests.
# Every text within cosine 0.99999 and 1e-4 absolute of its reference.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use List::Util qw(sum0 max min);
use Digest::SHA ();
use File::Basename qw(dirname);
use File::Spec ();
use InferTest;

my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();
my $fix = $ENV{TEST_NGINX_FIXTURES} || "$repo/t/fixtures";
my $root = "$fix/bert";

plan skip_all => "no $root/manifest.json: make fixtures"
    unless -f "$root/manifest.json";

my $COS = 0.99999;
my $DIFF = 1e-4;
my $TIMEOUT = 30;

my $J = JSON::PP->new->utf8->canonical(1);
my $JA = JSON::PP->new->utf8->canonical(1)->ascii(1);   # \u escapes

sub slurp_json {
    my $f = shift;
    open my $in, '<', $f or die "cannot open $f: $!\n";
    local $/;
    my $t = <$in>;
    close $in;
    return $J->decode($t);
}

my $manifest = slurp_json("$root/manifest.json");

my $gen = File::Spec->catfile(dirname(File::Spec->rel2abs(__FILE__)),
                              'lib', 'gen_bert.py');
is($manifest->{generator_sha256},
   Digest::SHA->new(256)->addfile($gen)->hexdigest,
   'the fixtures were made by this t/lib/gen_bert.py (else: make fixtures)');

my @models;
for my $e (@{ $manifest->{models} }) {
    my $dir = $e->{dir} =~ m{^/} ? $e->{dir} : "$root/$e->{dir}";
    my $cases = slurp_json("$root/$e->{cases}")->{cases};
    my @texts = grep { defined $_->{text} } @$cases;
    # OpenAI refuses an empty string ("'$.input' is invalid"), and so does
    # the module: KServe takes every text, OpenAI the others
    push @models, { %$e, dir => $dir, all => $cases, texts => \@texts,
                    oai => [grep { length $_->{text} } @texts] };
}

# a second server on a port of its own with reuseport: the kernel spreads
# its connections over both workers, so concurrent clients are served by
# both at once
my $par_port = InferTest::expand_env('$TEST_NGINX_RAND_PORT_1');
my $logs = InferTest::nginx_prefix() . '/logs';

my $http = <<"_EOC_";
    log_format emb '\$request_uri \$status pid=\$pid '
                   'batch=\$infer_batch_size tokens=\$infer_tokens';
_EOC_
for my $m (@models) {
    $m->{max_batch} = max(32, scalar @{ $m->{all} });
    $http .= "    infer_model $m->{name} $m->{dir} "
             . "max_batch=$m->{max_batch};\n";
}
my $locations = <<"_EOC_";
        location /v1/ { infer_api openai; }
        location /v2/ { infer_api kserve; }
_EOC_
$http .= <<"_EOC_";
    server {
        listen 127.0.0.1:$par_port reuseport;
        access_log $logs/parallel.log emb;
$locations    }
_EOC_

ok(start_nginx(workers => 2, master => 1, log_level => 'info',
               http_config => $http, config => $locations),
   'nginx starts with ' . scalar(@models) . ' text models, 2 workers')
    or BAIL_OUT($InferTest::LastError);

# --- comparison --------------------------------------------------------------

my %worst;      # model => [min cosine, max abs diff] over every check

# (cosine, max abs diff) of two vectors of the same length
sub vcmp {
    my ($g, $e) = @_;
    return (0, 9e9) if !ref $g || @$g != @$e || grep { !defined } @$g;
    my ($gg, $ee, $ge, $d) = (0, 0, 0, 0);
    for my $i (0 .. $#$e) {
        $gg += $g->[$i] ** 2;
        $ee += $e->[$i] ** 2;
        $ge += $g->[$i] * $e->[$i];
        my $x = abs($g->[$i] - $e->[$i]);
        $d = $x if $x > $d || $x != $x;
    }
    my $cos = ($gg == 0 && $ee == 0) ? 1 : ($gg == 0 || $ee == 0) ? 0
              : $ge / sqrt($gg * $ee);
    return ($cos, $d);
}

# every vector of @$got against @$ref: returns the first failures (as
# text), counts the model's worst
sub vecs_bad {
    my ($name, $got, $ref) = @_;
    my @bad;
    return ("got " . scalar(@$got) . " embeddings, expected "
            . scalar(@$ref)) if @$got != @$ref;
    my $w = $worst{$name} //= [1, 0];
    for my $i (0 .. $#$ref) {
        my ($c, $d) = vcmp($got->[$i], $ref->[$i]);
        $w->[0] = $c if $c < $w->[0];
        $w->[1] = $d if $d > $w->[1];
        push @bad, sprintf("[%d] cosine %.9f, max abs diff %.3g", $i, $c, $d)
            if !($c >= $COS && $d <= $DIFF);
    }
    return @bad;
}

# little-endian float32 from base64
sub b64_floats { [unpack 'f<*', decode_base64($_[0])] }

# An OpenAI answer: 200, its shape exactly, index order, usage, then each
# embedding against @$ref.  Returns the embeddings (floats; base64
# decoded) and what is wrong.
sub openai_check {
    my ($m, $st, $body, $ref, $tokens, %o) = @_;
    my $doc = ($st // 0) == 200 ? eval { $J->decode($body) } : undef;
    return ([], 'status ' . ($st // 'none') . ': '
                . substr($body // '', 0, 300)) unless ref $doc eq 'HASH';
    my @err;
    push @err, 'keys ' . join(',', sort keys %$doc)
        if join(',', sort keys %$doc) ne 'data,model,object,usage';
    push @err, "object $doc->{object}" if ($doc->{object} // '') ne 'list';
    push @err, "model $doc->{model}" if ($doc->{model} // '') ne $m->{name};
    my $u = $doc->{usage} // {};
    push @err, 'usage ' . $J->encode($u)
        if join(',', sort keys %$u) ne 'prompt_tokens,total_tokens'
           || ($u->{prompt_tokens} // -1) != $tokens
           || ($u->{total_tokens} // -1) != $tokens;
    my $data = ref $doc->{data} eq 'ARRAY' ? $doc->{data} : [];
    my @vecs;
    for my $i (0 .. $#$data) {
        my $d = $data->[$i];
        push @err, "data[$i]: keys " . join(',', sort keys %$d)
            if join(',', sort keys %$d) ne 'embedding,index,object';
        push @err, "data[$i]: object " . ($d->{object} // 'none')
            if ($d->{object} // '') ne 'embedding';
        push @err, "data[$i]: index " . ($d->{index} // 'none')
            if ($d->{index} // -1) != $i;
        my $e = $d->{embedding};
        if ($o{base64}) {
            push @err, "data[$i]: embedding is not a base64 string"
                if ref $e || !defined $e || $e !~ m{^[A-Za-z0-9+/]*={0,2}$};
            $e = b64_floats($e // '');
        } elsif (ref $e ne 'ARRAY') {
            push @err, "data[$i]: embedding is not an array";
        }
        push @vecs, $e;
    }
    push @err, vecs_bad($m->{name}, \@vecs, $ref);
    return (\@vecs, @err);
}

# one test of openai_check; the embeddings, or undef when it failed
sub openai_ok {
    my ($m, $label, @args) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($vecs, @err) = openai_check($m, @args);
    ok(!@err, "$m->{name}: $label")
        or diag(join "\n", @err[0 .. min($#err, 9)]);
    return @err ? undef : $vecs;
}

# A KServe v2 answer for the texts @$t: one output, embedding FP32
# [k, hidden], each row against its reference.  Returns what is wrong.
sub kserve_check {
    my ($m, $st, $body, $t) = @_;
    my $h = $m->{hidden};
    my $doc = ($st // 0) == 200 ? eval { $J->decode($body) } : undef;
    my $out = ref $doc eq 'HASH' && ref $doc->{outputs} eq 'ARRAY'
              ? $doc->{outputs}[0] : undef;
    return ('status ' . ($st // 'none') . ': ' . substr($body // '', 0, 300))
        unless ref $out eq 'HASH';
    my @e;
    push @e, 'model_name ' . ($doc->{model_name} // 'none')
        if ($doc->{model_name} // '') ne $m->{name};
    push @e, scalar(@{ $doc->{outputs} }) . ' outputs'
        if @{ $doc->{outputs} } != 1;
    push @e, 'output ' . $J->encode({ %$out, data => undef })
        if ($out->{name} // '') ne 'embedding'
           || ($out->{datatype} // '') ne 'FP32'
           || $J->encode($out->{shape}) ne $J->encode([scalar @$t, $h]);
    my $flat = ref $out->{data} eq 'ARRAY' ? $out->{data} : [];
    return (@e, 'data of ' . scalar(@$flat) . ' values')
        if @$flat != @$t * $h;
    return (@e, vecs_bad($m->{name},
                         [map { [@$flat[$_ * $h .. $_ * $h + $h - 1]] }
                              0 .. $#$t], refs(@$t)));
}

sub embed {
    my ($input, %o) = @_;
    my $enc = delete $o{enc} // $J;
    my ($st, undef, $body) = http_request(
        'POST', '/v1/embeddings', $enc->encode({ %o, input => $input }),
        { 'Content-Type' => 'application/json' }, timeout => $TIMEOUT);
    return ($st, $body);
}

sub refs { [map { $_->{embedding} } @_] }
sub ntok { sum0(map { scalar @{ $_->{ids} } } @_) }

# the first n components, renormalized for a model that normalizes
sub cut {
    my ($m, $v, $n) = @_;
    my @c = @$v[0 .. $n - 1];
    return \@c unless $m->{normalize};
    my $norm = sqrt(sum0(map { $_ * $_ } @c)) || 1;
    return [map { $_ / $norm } @c];
}

# --- each model, one client --------------------------------------------------

for my $m (@models) {
    my @t = @{ $m->{oai} };
    my $h = $m->{hidden};

    # every text goes in one request below; a model of many long texts
    # (MiniLM: 2 s of CPU a pass) takes a subset for the rest: the
    # longest, the shortest, every 4th
    my @by = sort { @{ $a->{ids} } <=> @{ $b->{ids} } } @t;
    my @s = ntok(@t) <= 1000 ? @t
          : ($by[0], $by[-1], @t[grep { $_ % 4 == 2 } 0 .. $#t]);

    # one text a request, the body in plain UTF-8
    my @bad;
    for my $i (0 .. $#s) {
        my ($st, $body) = embed($s[$i]{text}, model => $m->{name});
        my (undef, @e) = openai_check($m, $st, $body, refs($s[$i]),
                                      ntok($s[$i]));
        push @bad, map { "text $i: $_" } @e;
    }
    ok(!@bad, "$m->{name}: " . scalar(@s) . ' texts, one a request')
        or diag(join "\n", @bad[0 .. min($#bad, 9)]);

    # all of them in one request, the body with \u escapes
    my ($st, $body) = embed([map { $_->{text} } @t], model => $m->{name},
                            enc => $JA);
    openai_ok($m, scalar(@t) . ' texts in one request (' . ntok(@t)
                  . ' tokens)', $st, $body, refs(@t), ntok(@t));

    # the longest with the shortest, in turn: very different lengths
    @by = sort { @{ $a->{ids} } <=> @{ $b->{ids} } } @s;
    my @mix;
    push @mix, (pop @by, shift @by) while @by > 1;
    push @mix, @by;
    ($st, $body) = embed([map { $_->{text} } @mix], model => $m->{name});
    openai_ok($m, scalar(@mix) . ' long and short texts in turn, in one '
                  . 'request', $st, $body, refs(@mix), ntok(@mix));
    ($st, $body) = embed([map { $_->{text} } @mix[0, 1]],
                         model => $m->{name});
    openai_ok($m, sprintf('the longest (%d tokens) and the shortest (%d) '
                          . 'together', scalar @{ $mix[0]{ids} },
                          scalar @{ $mix[1]{ids} }),
              $st, $body, refs(@mix[0, 1]), ntok(@mix[0, 1]));

    # base64: the same float32s as the decimals of the same request
    ($st, $body) = embed([map { $_->{text} } @s], model => $m->{name},
                         encoding_format => 'float');
    my $floats = openai_ok($m, 'encoding_format float', $st, $body,
                           refs(@s), ntok(@s));
    ($st, $body) = embed([map { $_->{text} } @s], model => $m->{name},
                         encoding_format => 'base64');
    my $b64 = openai_ok($m, 'encoding_format base64', $st, $body, refs(@s),
                        ntok(@s), base64 => 1);
    if ($floats && $b64) {
        my @diff = grep { pack('f<*', @{ $floats->[$_] })
                          ne pack('f<*', @{ $b64->[$_] }) } 0 .. $#s;
        ok(!@diff, "$m->{name}: base64 and float give the same float32s")
            or diag("texts @diff differ");
    } else {
        fail("$m->{name}: base64 and float give the same float32s");
    }

    # dimensions=N: the first N, renormalized where the model normalizes
    my @d = @s > 8 ? @s[grep { $_ % 2 == 0 } 0 .. $#s] : @s;
    for my $n (1, 7, int($h / 2), $h - 1, $h) {
        ($st, $body) = embed([map { $_->{text} } @d], model => $m->{name},
                             dimensions => $n);
        openai_ok($m, "dimensions=$n of $h ("
                      . ($m->{normalize} ? 'renormalized' : 'as they are')
                      . ')', $st, $body,
                  [map { cut($m, $_->{embedding}, $n) } @d], ntok(@d));
    }
    ($st, $body) = embed([map { $_->{text} } @d], model => $m->{name},
                         dimensions => int($h / 3),
                         encoding_format => 'base64');
    openai_ok($m, 'dimensions=' . int($h / 3) . ' in base64', $st, $body,
              [map { cut($m, $_->{embedding}, int($h / 3)) } @d], ntok(@d),
              base64 => 1);

    # token ids: the reference's, as they are, the cases of ids alone too
    my @ids = ((grep { !defined $_->{text} } @{ $m->{all} }), @s);
    ($st, $body) = embed([map { $_->{ids} } @ids], model => $m->{name});
    openai_ok($m, scalar(@ids) . ' token id arrays in one request', $st,
              $body, refs(@ids), ntok(@ids));
    my ($one) = grep { @{ $_->{ids} } > 5 } @s;
    ($st, $body) = embed($one->{ids}, model => $m->{name});
    openai_ok($m, 'one token id array as input', $st, $body, refs($one),
              ntok($one));

    # an empty text: OpenAI's 400
    ($st, $body) = embed([$t[0]{text}, ''], model => $m->{name});
    my $err = ($st // 0) == 400 ? eval { $J->decode($body)->{error} } : undef;
    ok($err && $err->{type} eq 'invalid_request_error'
       && ($err->{param} // '') eq 'input' && $err->{message} =~ /empty/,
       "$m->{name}: an empty string in input is OpenAI's 400")
        or diag(($st // 'none') . ": " . ($body // ''));

    # KServe v2: BYTES texts, the empty one too, shape [k] (all of them)
    # and [k, 1]
    my @empty = grep { !length $_->{text} } @{ $m->{texts} };
    for my $shape ([scalar @{ $m->{texts} }], [@empty + @s, 1]) {
        @t = $shape->[1] ? (@empty, @s) : @{ $m->{texts} };
        my ($kst, undef, $kbody) = http_request(
            'POST', "/v2/models/$m->{name}/infer",
            $J->encode({ inputs => [{ name => 'text', datatype => 'BYTES',
                                      shape => $shape,
                                      data => [map { $_->{text} } @t] }] }),
            { 'Content-Type' => 'application/json' }, timeout => $TIMEOUT);
        my @e = kserve_check($m, $kst, $kbody, \@t);
        ok(!@e, "$m->{name}: KServe v2 BYTES, shape " . $J->encode($shape))
            or diag(join "\n", @e[0 .. min($#e, 9)]);
    }

    my ($mst, undef, $mbody) = http_request('GET', "/v2/models/$m->{name}");
    my $meta = ($mst // 0) == 200 ? eval { $J->decode($mbody) } : undef;
    is_deeply($meta && [$meta->{inputs}, $meta->{outputs}],
              [[{ name => 'text', datatype => 'BYTES', shape => [-1] }],
               [{ name => 'embedding', datatype => 'FP32',
                  shape => [-1, $h] }]],
              "$m->{name}: metadata: input text BYTES [-1], output embedding "
              . "FP32 [-1, $h]")
        or diag(($mst // 'none') . ': ' . ($mbody // ''));
}

# --- many clients at once, both workers --------------------------------------

# what each client sends, fixed before the fork: the largest model
# (MiniLM) most of the time, long enough a batch for others to queue
# behind it, the others between; 1 to 3 texts of its model, OpenAI or
# KServe
my ($clients, $per) = (8, 6);
my ($heavy, @light) = sort { $b->{hidden} <=> $a->{hidden}
                             || $a->{name} cmp $b->{name} } @models;
my @plan;
my $seed = 12345;
sub rnd { $seed = ($seed * 1103515245 + 12345) % 2147483648; $seed % $_[0] }
for my $c (0 .. $clients - 1) {
    for my $i (0 .. $per - 1) {
        my $m = $c < 5 || $i % 2 ? $heavy : $light[rnd(scalar @light)];
        my $api = rnd(3) ? 'openai' : 'kserve';
        my $from = $m->{$api eq 'openai' ? 'oai' : 'texts'};
        my @t = map { $from->[rnd(scalar @$from)] } 1 .. 1 + rnd(3);
        my $q = "c=$c&i=$i";
        $plan[$c][$i] = { m => $m, t => \@t, api => $api,
            req => $api eq 'openai'
                ? ['POST', "/v1/embeddings?$q",
                   $J->encode({ model => $m->{name},
                                input => [map { $_->{text} } @t] })]
                : ['POST', "/v2/models/$m->{name}/infer?$q",
                   $J->encode({ inputs => [{ name => 'text',
                        datatype => 'BYTES', shape => [scalar @t],
                        data => [map { $_->{text} } @t] }] })] };
    }
}

my $res;
{
    local $InferTest::ClientPort = $par_port;
    $res = parallel_clients(clients => $clients, requests => $per,
                            timeout => $TIMEOUT,
                            request => sub { $plan[$_[0]][$_[1]]{req} });
}

my @bad;
for my $r (@$res) {
    my $p = $plan[$r->{client}][$r->{seq}];
    my ($m, @t) = ($p->{m}, @{ $p->{t} });
    my ($st, $body) = ($r->{status}, $r->{body} // $r->{error});
    my (undef, @e) = $p->{api} eq 'openai'
                     ? openai_check($m, $st, $body, refs(@t), ntok(@t))
                     : (undef, kserve_check($m, $st, $body, \@t));
    push @bad, map { "c$r->{client}#$r->{seq} ($m->{name}, $p->{api}): $_" }
                   @e;
}
ok(!@bad, "$clients clients x $per requests at once: every answer is its "
          . "own texts' embeddings")
    or diag(join "\n", @bad[0 .. min($#bad, 9)]);

# the access log of that server: both workers served, and requests were
# batched with others (a batch larger than the request's own texts)
sub plog_lines {
    open my $in, '<', "$logs/parallel.log" or return ();
    my @l = <$in>;
    close $in;
    return @l;
}

# the log phase may end just after the client has its answer
wait_until { plog_lines() >= $clients * $per } 3;

my %pids;
my ($mixed, $lines) = (0, 0);
for my $l (plog_lines()) {
    my ($c, $i, $pid, $batch) =
        $l =~ /c=(\d+)&i=(\d+) 200 pid=(\d+) batch=(\d+)/ or next;
    $lines++;
    $pids{$pid}++;
    $mixed++ if $batch > @{ $plan[$c][$i]{t} };
}
is($lines, $clients * $per, 'one access log line, 200, per request');
cmp_ok(scalar keys %pids, '>=', 2, 'both workers served the clients ('
       . join(', ', map { "$_: $pids{$_}" } sort keys %pids) . ')');
cmp_ok($mixed, '>', 0, "$mixed requests computed in a batch with others");

# --- the worst seen ----------------------------------------------------------

for my $m (@models) {
    my $w = $worst{$m->{name}} or next;
    diag(sprintf '%s: min cosine 1 - %.2g, max abs diff %.3g', $m->{name},
                 1 - $w->[0], $w->[1]);
}

my @alerts = grep { /\[(alert|crit|emerg|error)\]/ } error_log_lines(0);
is(scalar @alerts, 0, 'no [error] or [alert] in the error log')
    or diag(@alerts[0 .. min($#alerts, 9)]);

stop_nginx();
done_testing();
