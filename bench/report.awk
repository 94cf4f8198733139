# bench/report.awk - bench/run.sh's report: tables per scenario, paired ratios per round, targets,
# and the JSON file (-v json=PATH). Inputs: the meta table (key TAB value), then the runs table
# (one row per run, written by bench/parse-wrk.awk). Portable awk (mawk): no asort, no gensub.
# Exit status 1 unless every target passes.

function add(list, v) { return (list == "") ? v : list " " v }
function sortnum(list, a,    n, i, j, t) {      # split list into a[1..n], sorted ascending
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) {
        t = a[i] + 0
        for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]
        a[j + 1] = t
    }
    return n
}
function median(list,    a, n) {
    n = sortnum(list, a)
    if (n == 0) return ""
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function lo(list,    a, n) { n = sortnum(list, a); return n ? a[1] : "" }
function hi(list,    a, n) { n = sortnum(list, a); return n ? a[n] : "" }
function count(list,    a) { return split(list, a, " ") }

function fmt(v, f) { return (v == "") ? "-" : sprintf(f, v) }
function thou(v,    s, neg, out) {            # 117539 -> 117,539
    if (v == "") return "-"
    s = sprintf("%.0f", v); out = ""
    while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
    return s out
}
function cell(list, f) {                       # "median [min-max]"
    if (list == "") return "-"
    if (count(list) == 1) return (f == "thou") ? thou(list) : sprintf(f, list)
    if (f == "thou") return thou(median(list)) " [" thou(lo(list)) "-" thou(hi(list)) "]"
    return sprintf(f, median(list)) " [" sprintf(f, lo(list)) "-" sprintf(f, hi(list)) "]"
}

function jstr(s) {
    gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\t/, "\\t", s); gsub(/\r/, "", s); gsub(/\n/, "\\n", s)
    return "\"" s "\""
}
function jnum(v) { return (v == "") ? "null" : v + 0 }
function jstats(list,    a, n, i, out) {
    if (list == "") return "null"
    n = sortnum(list, a)
    out = ""
    for (i = 1; i <= n; i++) out = out (i > 1 ? ", " : "") (a[i] + 0)
    return sprintf("{\"median\": %s, \"min\": %s, \"max\": %s, \"n\": %d, \"values\": [%s]}",
                   jnum(median(list)), jnum(lo(list)), jnum(hi(list)), n, out)
}
function jrounds(s, key,    r, out, sep) {      # per-round values in round order, null if missing
    out = ""; sep = ""
    for (r = 1; r <= nrounds; r++) { out = out sep (((s, key, r) in ratio) ? ratio[s, key, r] + 0 : "null"); sep = ", " }
    return "[" out "]"
}

BEGIN {
    FS = "\t"
    title["ka-1k"] = "keep-alive /1k"
    title["ka-64k"] = "keep-alive /64k"
    title["close-1k"] = "Connection: close /1k"
    # The multi-endpoint scenarios (titles completed with the endpoint count in END).
    title["multi-1k"] = "keep-alive /1k, %s endpoints round-robin, affinity cookie sent but unused (control)"
    title["sticky-1k"] = "sticky keep-alive /1k, %s endpoints, valid cookie on every request (tether balanced; nginx hash $cookie consistent; HAProxy cookie insert)"
    title["sticky-new-1k"] = "sticky keep-alive /1k, %s endpoints, no cookie: tether and HAProxy issue one per request, nginx round-robins"
    title["sticky-persist-1k"] = "sticky keep-alive /1k, %s endpoints, valid tether persistent-mode cookie (nginx and HAProxy as sticky-1k)"
    # Differences inside one proxy, same round: "a b" = us/req of scenario a minus scenario b.
    npairs = split("sticky-1k multi-1k|sticky-new-1k multi-1k|sticky-persist-1k multi-1k|multi-1k ka-1k|sticky-1k ka-1k|sticky-new-1k ka-1k", pairs_s, "|")
    aff_out[1] = "hit"; aff_out[2] = "new"; aff_out[3] = "rebind"; aff_out[4] = "failover"
    ncont = split("direct nginx haproxy tether", cont, " ")
    # Issue 2 targets: tether's CPU per request at most nginx's (median of paired ratios).
    ntgt = 3
    tgt_s[1] = "ka-1k";    tgt_text[1] = "keep-alive /1k: tether us/req <= nginx's"
    tgt_s[2] = "ka-64k";   tgt_text[2] = "keep-alive /64k: tether us/req <= nginx's"
    tgt_s[3] = "close-1k"; tgt_text[3] = "Connection: close /1k: tether us/req <= nginx's (at least as good)"
    for (i = 1; i <= ntgt; i++) tgt_limit[i] = 1.00
}

FNR == NR { meta[$1] = $2; mkey[++nmeta] = $1; next }

{
    nrows++
    row[nrows] = $0
    s = $2; c = $3; r = $1 + 0
    if (!(s in seen_s)) { seen_s[s] = 1; scen[++nscen] = s }
    if (r > nrounds) nrounds = r
    ran[c] = 1
    if ($5 != "ok") nflag++
    if ($5 == "died" || $5 == "fail" || $6 == "") { bad[s, c] = add(bad[s, c], "r" r ":" $5); next }
    if ($5 != "ok") bad[s, c] = add(bad[s, c], "r" r ":" $5)
    got[s, c, r] = 1
    rps[s, c, r] = $6; proxy[s, c, r] = $18
    L_rps[s, c] = add(L_rps[s, c], $6)
    L_p50[s, c] = add(L_p50[s, c], $7)
    L_p99[s, c] = add(L_p99[s, c], $8)
    if ($18 != "") L_us[s, c] = add(L_us[s, c], $18)
    L_bus[s, c] = add(L_bus[s, c], $19)
    if ($25 != "") L_pss[s, c] = add(L_pss[s, c], $25 / 1024)
    if ($21 != "") L_pcpu[s, c] = add(L_pcpu[s, c], $21)
    L_bcpu[s, c] = add(L_bcpu[s, c], $22)
    L_wcpu[s, c] = add(L_wcpu[s, c], $23)
    L_oth[s, c] = add(L_oth[s, c], $27)
    L_oth_all = add(L_oth_all, $27)
    if ($28 != "") {        # tether's affinity decisions in the run: hit new rebind failover
        n = split($28, d, " ")
        for (i = 1; i <= 4; i++) aff[s, i] += d[i]
        aff_req[s] += $10; aff_seen[s] = 1
    }
}

function sgn(v) { return sprintf("%+.1f", v) }
function dcell(list) {                         # signed "median [min .. max]"
    if (list == "") return "-"
    if (count(list) == 1) return sgn(list)
    return sgn(median(list)) " [" sgn(lo(list)) " .. " sgn(hi(list)) "]"
}

# Per-round differences and ratios of contender c's us/req between scenarios a and b.
function within(c, a, b,    r, key, dl, rl, per, sep, v) {
    key = a " - " b
    dl = ""; rl = ""; per = ""; sep = ""
    for (r = 1; r <= nrounds; r++) {
        if (((a, c, r) in got) && ((b, c, r) in got) && proxy[a, c, r] != "" && proxy[b, c, r] + 0 > 0) {
            v = proxy[a, c, r] - proxy[b, c, r]
            dl = add(dl, sprintf("%.2f", v)); rl = add(rl, sprintf("%.3f", proxy[a, c, r] / proxy[b, c, r]))
            per = per sep sgn(v)
        } else per = per sep "-"
        sep = " "
    }
    if (dl == "") return 0
    nwithin++
    W_c[nwithin] = c; W_key[nwithin] = key; W_d[nwithin] = dl; W_r[nwithin] = rl
    printf "  %-8s %-29s %-23s x%-21s rounds: %s\n", c, key, dcell(dl) " us", cell(rl, "%.2f"), per
    return 1
}

function pair(s, a, b, metric,    r, v, key, list) {
    key = a "/" b " " metric
    list = ""
    for (r = 1; r <= nrounds; r++) {
        if (!((s, a, r) in got) || !((s, b, r) in got)) continue
        if (metric == "rps") { if (rps[s, b, r] + 0 <= 0) continue; v = rps[s, a, r] / rps[s, b, r] }
        else { if (proxy[s, b, r] + 0 <= 0 || proxy[s, a, r] == "") continue; v = proxy[s, a, r] / proxy[s, b, r] }
        v = sprintf("%.3f", v)
        ratio[s, key, r] = v
        list = add(list, v)
    }
    R[s, key] = list
    if (list != "") { nkeys[s]++; rkey[s, nkeys[s]] = key }
    return list
}

function ratio_line(s, key,    r, per, sep) {
    if (R[s, key] == "") return
    per = ""; sep = ""
    for (r = 1; r <= nrounds; r++) { per = per sep (((s, key, r) in ratio) ? sprintf("%.2f", ratio[s, key, r]) : "-"); sep = " " }
    printf "    %-22s %-18s rounds: %s\n", key, cell(R[s, key], "%.2f"), per
}

END {
    printf "\n"
    printf "tether bench  %s  %s, %s CPUs (%s)\n", meta["date"], meta["kernel"], meta["nproc"], meta["cpu_model"]
    printf "  %s | %s | %s\n", meta["nginx_version"], meta["haproxy_version"], meta["wrk_version"]
    printf "  wrk -t%s -c%s --latency, %s rounds x %s s after %s s warm-up; %s; load at start %s\n",
        meta["wrk_threads"], meta["wrk_conns"], meta["rounds"], meta["duration_s"], meta["warmup_s"],
        (meta["pinned"] == 1) ? "wrk on CPU " meta["wrk_cpu"] ", proxies + backend on CPU " meta["proxy_cpu"] : "unpinned",
        meta["loadavg_start"]
    if (meta["nice"] != "" && meta["nice"] != 0) printf "  everything we start runs under nice -n %s\n", meta["nice"]
    for (i = 1; i <= ncont; i++) {
        c = cont[i]
        if (("status_" c) in meta && meta["status_" c] != "running")
            printf "  %s: %s\n", c, meta["status_" c]
    }

    for (si = 1; si <= nscen; si++) {
        s = scen[si]
        printf "\n== %s  (median [min-max] over rounds)\n", (s in title) ? sprintf(title[s], meta["sticky_endpoints"]) : s
        printf "  %-8s %-27s %-22s %-22s %-16s %-9s %s\n", "", "req/s", "p99 ms", "proxy us/req", "backend us/req", "PSS MiB", "CPU% proxy/backend/wrk/others"
        for (i = 1; i <= ncont; i++) {
            c = cont[i]
            if (!(c in ran) && !(("status_" c) in meta)) continue
            if (L_rps[s, c] == "") {
                st = (("status_" c) in meta && meta["status_" c] != "running") ? meta["status_" c] : "no result"
                if (length(st) > 60) st = substr(st, 1, 57) "..."
                printf "  %-8s %s%s\n", c, st, (bad[s, c] != "") ? "  !! " bad[s, c] : ""
                continue
            }
            printf "  %-8s %-27s %-22s %-22s %-16s %-9s %s%s\n", c, cell(L_rps[s, c], "thou"),
                cell(L_p99[s, c], "%.2f"), (c == "direct") ? "(ceiling)" : cell(L_us[s, c], "%.1f"),
                cell(L_bus[s, c], "%.1f"), (L_pss[s, c] == "") ? "-" : sprintf("%.1f", median(L_pss[s, c])),
                sprintf("%s/%.0f/%.0f/%.0f", (L_pcpu[s, c] == "") ? "-" : sprintf("%.0f", median(L_pcpu[s, c])), median(L_bcpu[s, c]), median(L_wcpu[s, c]), 100 * median(L_oth[s, c])),
                (bad[s, c] != "") ? "  !! " bad[s, c] : ""
        }
        printf "  paired ratios per round (median [min-max]):\n"
        pair(s, "tether", "nginx", "rps");  pair(s, "tether", "nginx", "us/req")
        pair(s, "haproxy", "nginx", "rps"); pair(s, "haproxy", "nginx", "us/req")
        pair(s, "tether", "direct", "rps"); pair(s, "nginx", "direct", "rps"); pair(s, "haproxy", "direct", "rps")
        for (k = 1; k <= nkeys[s]; k++) ratio_line(s, rkey[s, k])
        if (nkeys[s] == 0) printf "    (none: fewer than two contenders ran)\n"
        if ((s in aff_seen) && (s ~ /^sticky-/ || s == "multi-1k") && aff_req[s] > 0)
            printf "  tether affinity decisions per request (measured runs, /metrics): hit %.3f  new %.3f  rebind %.3f  failover %.3f\n",
                aff[s, 1] / aff_req[s], aff[s, 2] / aff_req[s], aff[s, 3] / aff_req[s], aff[s, 4] / aff_req[s]
    }

    # Cost of affinity inside each proxy: scenario against scenario, paired by round.
    nw = 0
    for (p = 1; p <= npairs; p++) {
        split(pairs_s[p], ab, " ")
        if ((ab[1] in seen_s) && (ab[2] in seen_s)) nw++
    }
    if (nw > 0) {
        printf "\n== inside each proxy: us/req of one scenario minus another's, paired by round (median [min .. max])\n"
        if ("multi-1k" in seen_s)
            printf "   (X - multi-1k: the cost of affinity alone, same %s endpoints and, for sticky-1k, the same request bytes)\n", meta["sticky_endpoints"]
        else
            printf "   (X - ka-1k also holds the Cookie header and %s endpoints instead of 1; add multi-1k for the affinity alone)\n", meta["sticky_endpoints"]
        split("tether nginx haproxy", wc, " ")
        for (i = 1; i <= 3; i++)
            for (p = 1; p <= npairs; p++) {
                split(pairs_s[p], ab, " ")
                if ((ab[1] in seen_s) && (ab[2] in seen_s)) within(wc[i], ab[1], ab[2])
            }
    }

    printf "\n== targets (issue 2, item 8: medians of paired ratios)\n"
    fails = 0
    for (i = 1; i <= ntgt; i++) {
        s = tgt_s[i]
        key = "tether/nginx us/req"
        v = ((s, key) in R && R[s, key] != "") ? median(R[s, key]) : ""
        if (v == "") { res = "SKIP"; why = (meta["status_tether"] == "running") ? "no paired nginx run" : "tether: " meta["status_tether"] }
        else if (bad[s, "tether"] != "") { res = "FAIL"; why = sprintf("%.2f, but tether runs were flagged: %s", v, bad[s, "tether"]) }
        else if (v + 0 <= tgt_limit[i]) { res = "PASS"; why = sprintf("%.2f <= %.2f", v, tgt_limit[i]) }
        else { res = "FAIL"; why = sprintf("%.2f > %.2f", v, tgt_limit[i]) }
        if (res != "PASS") fails++
        tgt_res[i] = res; tgt_val[i] = v
        printf "%-4s  %-66s %s\n", res, tgt_text[i], why
    }
    s = "ka-1k"; key = "tether/nginx rps"
    if ((s, key) in R && R[s, key] != "")
        printf "info  keep-alive /1k: tether req/s / nginx's >= 0.95 (benchmarking.md gate)   %.2f %s\n",
            median(R[s, key]), (median(R[s, key]) >= 0.95) ? "ok" : "below"
    s = "sticky-1k"; key = "tether/nginx us/req"
    if ((s, key) in R && R[s, key] != "")
        printf "info  sticky-1k: tether us/req / nginx's (hash $cookie_%s consistent)                  %.2f [%.2f-%.2f]\n",
            meta["cookie_name"], median(R[s, key]), lo(R[s, key]), hi(R[s, key])
    s = "sticky-new-1k"
    if ((s, key) in R && R[s, key] != "")
        printf "info  sticky-new-1k: tether us/req / nginx's (tether issues a cookie, nginx does not) %.2f [%.2f-%.2f]\n",
            median(R[s, key]), lo(R[s, key]), hi(R[s, key])
    if (L_oth_all != "" && median(L_oth_all) > meta["load_max"] + 0)
        printf "WARN  other processes used %.2f cores (median, max %.2f) during the runs, above LOAD_MAX %s: numbers are disturbed (a quiet machine, or NICE=-10, helps)\n", median(L_oth_all), hi(L_oth_all), meta["load_max"]
    if (nflag) printf "note  flagged runs (errors, short bodies or no result) are marked !! above; errors must be 0\n"

    if (json == "") exit (fails > 0)
    # ---- JSON ----
    printf "{\n  \"meta\": {" > json
    for (i = 1; i <= nmeta; i++) printf "%s\n    %s: %s", (i > 1 ? "," : ""), jstr(mkey[i]), jstr(meta[mkey[i]]) > json
    printf "\n  },\n  \"runs\": [" > json
    for (i = 1; i <= nrows; i++) {
        n = split(row[i], f, "\t")
        for (k = n + 1; k <= 28; k++) f[k] = ""
        printf "%s\n    {\"round\": %d, \"scenario\": %s, \"contender\": %s, \"position\": %s, \"status\": %s", \
            (i > 1 ? "," : ""), f[1], jstr(f[2]), jstr(f[3]), jnum(f[4]), jstr(f[5]) > json
        if (f[6] != "")
            printf ", \"rps\": %s, \"p50_ms\": %s, \"p99_ms\": %s, \"max_ms\": %s, \"requests\": %s, \"seconds\": %s, \"bytes_read\": %s, \"socket_errors\": {\"connect\": %s, \"read\": %s, \"write\": %s, \"timeout\": %s}, \"non_2xx_3xx\": %s, \"proxy_cpu_us_per_req\": %s, \"backend_cpu_us_per_req\": %s, \"wrk_cpu_us_per_req\": %s, \"proxy_cpu_pct\": %s, \"backend_cpu_pct\": %s, \"wrk_cpu_pct\": %s, \"rss_kib\": %s, \"pss_kib\": %s, \"other_processes_cores\": %s", \
                jnum(f[6]), jnum(f[7]), jnum(f[8]), jnum(f[9]), jnum(f[10]), jnum(f[11]), jnum(f[12]), \
                jnum(f[13]), jnum(f[14]), jnum(f[15]), jnum(f[16]), jnum(f[17]), jnum(f[18]), jnum(f[19]), \
                jnum(f[20]), jnum(f[21]), jnum(f[22]), jnum(f[23]), jnum(f[24]), jnum(f[25]), jnum(f[27]) > json
        if (f[28] != "") {
            split(f[28], d, " ")
            printf ", \"affinity_decisions\": {\"hit\": %d, \"new\": %d, \"rebind\": %d, \"failover\": %d}", d[1], d[2], d[3], d[4] > json
        }
        printf ", \"note\": %s}", jstr(f[26]) > json
    }
    printf "\n  ],\n  \"summary\": {" > json
    for (si = 1; si <= nscen; si++) {
        s = scen[si]
        printf "%s\n    %s: {\n      \"title\": %s,\n      \"contenders\": {", (si > 1 ? "," : ""), jstr(s), jstr((s in title) ? title[s] : s) > json
        sep = ""
        for (i = 1; i <= ncont; i++) {
            c = cont[i]
            if (L_rps[s, c] == "" && bad[s, c] == "") continue
            printf "%s\n        %s: {\"rps\": %s, \"p50_ms\": %s, \"p99_ms\": %s, \"proxy_cpu_us_per_req\": %s, \"backend_cpu_us_per_req\": %s, \"pss_mib\": %s, \"flagged\": %s}", \
                sep, jstr(c), jstats(L_rps[s, c]), jstats(L_p50[s, c]), jstats(L_p99[s, c]), jstats(L_us[s, c]), \
                jstats(L_bus[s, c]), jstats(L_pss[s, c]), jstr(bad[s, c]) > json
            sep = ","
        }
        printf "\n      },\n      \"paired_ratios\": {" > json
        for (k = 1; k <= nkeys[s]; k++) {
            key = rkey[s, k]
            printf "%s\n        %s: {\"stats\": %s, \"per_round\": %s}", (k > 1 ? "," : ""), jstr(key), jstats(R[s, key]), jrounds(s, key) > json
        }
        printf "\n      }" > json
        if (s in aff_seen)
            printf ",\n      \"tether_affinity_decisions\": {\"requests\": %d, \"hit\": %d, \"new\": %d, \"rebind\": %d, \"failover\": %d}", \
                aff_req[s], aff[s, 1], aff[s, 2], aff[s, 3], aff[s, 4] > json
        printf "\n    }" > json
    }
    printf "\n  },\n  \"within_proxy\": [" > json
    for (k = 1; k <= nwithin; k++)
        printf "%s\n    {\"contender\": %s, \"scenarios\": %s, \"us_per_req_difference\": %s, \"us_per_req_ratio\": %s}", \
            (k > 1 ? "," : ""), jstr(W_c[k]), jstr(W_key[k]), jstats(W_d[k]), jstats(W_r[k]) > json
    printf "\n  ],\n  \"targets\": [" > json
    for (i = 1; i <= ntgt; i++)
        printf "%s\n    {\"scenario\": %s, \"text\": %s, \"metric\": \"tether/nginx us/req, median of paired ratios\", \"limit\": %s, \"value\": %s, \"result\": %s}", \
            (i > 1 ? "," : ""), jstr(tgt_s[i]), jstr(tgt_text[i]), tgt_limit[i], jnum(tgt_val[i]), jstr(tgt_res[i]) > json
    printf "\n  ]\n}\n" > json
    close(json)
    exit (fails > 0)
}
