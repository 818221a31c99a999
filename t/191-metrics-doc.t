# The README's metrics tables (### infer_metrics) and what /metrics prints
# agree: a server with an MLP (digits), a text encoder (a random BERT of
# t/fixtures/bert) and a decoder (the random Llama directory of
# t/fixtures/llama/hf) answers one request each, and then every family
# /metrics has is a row of the tables with its type and exactly its
# labels, every row is a family /metrics has, the families of the
# decoder's table are the decoder's alone, a text model's the text
# model's, the rest every model's; and each family is one group, as
# Prometheus's text format wants.

use strict;
use warnings;
use Test::More;
use JSON::PP;
use InferTest;
use InferCheck;

ensure_fixtures();

my $repo = $ENV{TEST_NGINX_REPO} || Cwd::getcwd();
my $fix = $ENV{TEST_NGINX_FIXTURES};
my $bert = "$fix/bert/r_f32_max_norm";
my $tiny = "$fix/llama/hf/f32";

plan skip_all => "no $bert or $tiny (make fixtures)"
    unless -d $bert && -d $tiny;

# --- the README's tables ------------------------------------------------------

my $readme = do { local (@ARGV, $/) = "$repo/README.md"; <> };
my ($section) = $readme =~ /^### infer_metrics\n(.*?)^### /ms;
ok($section, 'README.md has the infer_metrics section');

# rows of each table, in order: first every model's, then a decoder's
my (@tables, %doc);
for my $block (split /\n\n+/, $section // '') {
    my @rows = grep { /^\| `ngx_infer_/ } split /\n/, $block;
    next unless @rows;
    my $t = @tables;
    push @tables, [];
    for my $row (@rows) {
        my @c = map { s/^\s+|\s+$//gr } split /\|/, $row;
        shift @c;
        my ($name, $type, $labels, $meaning) = @c;
        $name =~ s/`//g;
        my %l = map { s/`//gr => 1 } split /,\s*/, $labels;
        $doc{$name} = { type => $type, labels => join(',', sort keys %l),
                        table => $t, meaning => $meaning };
        push @{ $tables[-1] }, $name;
    }
}
is(scalar @tables, 2, 'two tables: every model\'s, a decoder\'s');

# --- what /metrics prints -------------------------------------------------------

ok(start_nginx(workers => 1, master => 1, log_level => 'info',
               http_config => <<"_EOC_",
    infer_model digits $repo/models/digits;
    infer_model bert $bert instances=1;
    infer_model tiny $tiny kv_cache=8m ctx=128 max_batch=4 instances=1;
_EOC_
               config => <<'_EOC_'),
    location /v2 { infer_api kserve; }
    location /v1/ { infer_api openai; }
    location = /metrics { infer_metrics; }
_EOC_
   'nginx starts with an MLP, an encoder and a decoder')
    or BAIL_OUT($InferTest::LastError);

my $example = do { local (@ARGV, $/) = "$repo/models/digits/example-request.json"; <> };
is((http_request('POST', '/v2/models/digits/infer', $example))[0], 200,
   'digits answers');
is((http_request('POST', '/v1/embeddings',
                 '{"model":"bert","input":"some text"}'))[0], 200,
   'bert answers');
is((http_request('POST', '/v1/completions',
                 '{"model":"tiny","prompt":[1,2,3],"max_tokens":4,'
                 . '"temperature":0}'))[0], 200,
   'tiny answers');

my ($st, $h, $text) = http_request('GET', '/metrics');
is($st, 200, 'GET /metrics');

# families by their TYPE lines; each sample to its family, which must be
# the last one whose TYPE line came (one group a family)
my (%fam, @order, $cur, @strays);
for my $line (split /\n/, $text // '') {
    if ($line =~ /^# TYPE (\S+) (\S+)$/) {
        push @strays, "$1 declared twice" if $fam{$1};
        $fam{$1} = { type => $2, labels => {}, models => {} };
        push @order, $1;
        $cur = $1;
        next;
    }
    next if $line =~ /^# HELP /;
    my ($name, $labels) = $line =~ /^(\w+)\{([^}]*)\} \S+$/
        or do { push @strays, "unparsed: $line"; next };
    my $f = $name;
    $f =~ s/_(?:bucket|sum|count)$//
        if !$fam{$name} && $fam{ $name =~ s/_(?:bucket|sum|count)$//r };
    if (!defined $cur || $f ne $cur) {
        push @strays, "$line (after # TYPE " . ($cur // '-') . ')';
        next;
    }
    for my $kv (split /,/, $labels) {
        my ($k, $v) = $kv =~ /^(\w+)="([^"]*)"$/ or next;
        $fam{$f}{labels}{$k} = 1;
        $fam{$f}{models}{$v} = 1 if $k eq 'model';
    }
}
is_deeply(\@strays, [], 'every sample in its family\'s group, every family '
                        . 'declared once');

for my $f (@order) {
    my $d = $doc{$f};
    ok($d, "$f: in the README") or next;
    is($fam{$f}{type}, $d->{type}, "$f: a $d->{type}");
    is(join(',', sort keys %{ $fam{$f}{labels} }), $d->{labels},
       "$f: labels $d->{labels}");
    my $want = $d->{table} == 1 ? 'tiny'
             : $d->{meaning} =~ /text models only/ ? 'bert'
             : 'bert,digits,tiny';
    is(join(',', sort keys %{ $fam{$f}{models} }), $want,
       "$f: of models $want");
}

for my $f (sort keys %doc) {
    ok($fam{$f}, "$f: the README's row is in /metrics");
}

done_testing();
