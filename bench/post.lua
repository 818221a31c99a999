-- wrk script of the ngx_infer benchmark: the same POST on every request.
--
--   wrk -t1 -c16 -d10s --latency -s bench/post.lua URL -- BODY_FILE [CONTENT_TYPE [HEADER_LEN]]
--
-- BODY_FILE is read in binary mode, so it may hold a KServe JSON body or a
-- binary tensor extension body (JSON header + raw bytes). CONTENT_TYPE
-- defaults to application/json. HEADER_LEN, when given, is sent as
-- Inference-Header-Content-Length (the length of the JSON header of a
-- binary body). Without script arguments the same three come from the
-- environment: BENCH_BODY_FILE, BENCH_CONTENT_TYPE, BENCH_HEADER_LEN.
--
-- Besides wrk's own report, done() prints one line for scripts:
--   BENCH_JSON {"requests":...,"non200":...,"p50_us":...,...}
-- non200 counts the answers whose status is not 200 (wrk's own
-- "Non-2xx or 3xx responses" counts only status >= 400).

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local path = args[1] or os.getenv("BENCH_BODY_FILE")
   local ctype = args[2] or os.getenv("BENCH_CONTENT_TYPE") or "application/json"
   local hlen = args[3] or os.getenv("BENCH_HEADER_LEN")

   if path == nil or path == "" then
      error("post.lua: give the body file as a script argument or in BENCH_BODY_FILE")
   end

   local f = assert(io.open(path, "rb"))
   local body = f:read("*a")
   f:close()

   wrk.method = "POST"
   wrk.body = body
   wrk.headers["Content-Type"] = ctype
   if hlen ~= nil and hlen ~= "" then
      wrk.headers["Inference-Header-Content-Length"] = hlen
   end

   non200 = 0
   first_bad = ""
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
      if first_bad == "" then
         first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 200)
      end
   end
end

local function json_string(s)
   s = string.gsub(s, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local non2 = 0
   local bad = ""
   for _, t in ipairs(threads) do
      non2 = non2 + (t:get("non200") or 0)
      if bad == "" then
         bad = t:get("first_bad") or ""
      end
   end

   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"mean_us":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
      '"non200":%d,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
      '"err_status":%d,"err_timeout":%d,"first_bad":%s}\n',
      summary.requests, summary.duration, summary.bytes,
      latency.mean, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max,
      non2, e.connect, e.read, e.write, e.status, e.timeout,
      json_string(bad)))
end
