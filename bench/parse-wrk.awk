# bench/parse-wrk.awk - one wrk --latency output -> one tab-separated row of bench/run.sh's
# runs table (columns listed in bench/README.md). Variables come from run.sh (-v): r s c pos
# size pt bt (proxy/backend CPU ticks) wrk_s (wrk CPU seconds) hz elapsed (wall-clock seconds)
# mem ("RSS PSS" KiB) direct (1 when wrk ran straight against the backend) other (CPU ticks
# used meanwhile by processes that are not the contender, the backend or wrk).

function ms(v,    n) {               # "641.16us" / "1.12ms" / "2.00s" -> milliseconds
    n = v + 0
    if (v ~ /us$/) return n / 1000
    if (v ~ /ms$/) return n
    if (v ~ /m$/)  return n * 60000
    if (v ~ /s$/)  return n * 1000
    return n
}
function bytes(v,    n) {            # "375.78MB" -> bytes (wrk uses powers of 1024)
    n = v + 0
    if (v ~ /KB$/) return n * 1024
    if (v ~ /MB$/) return n * 1048576
    if (v ~ /GB$/) return n * 1073741824
    if (v ~ /TB$/) return n * 1099511627776
    return n
}

$1 == "Latency" && NF >= 4   { maxl = ms($4) }
$1 == "50%"                  { p50 = ms($2) }
$1 == "99%"                  { p99 = ms($2) }
/ requests in /              { req = $1; secs = $4 + 0; rd = $5; sub(/,$/, "", rd); bread = bytes(rd) }
/^ *Socket errors:/          { gsub(/,/, ""); ec = $4; er = $6; ew = $8; et = $10 }
/^ *Non-2xx or 3xx responses:/ { n2 = $NF }
/^Requests\/sec:/            { rps = $2 }

END {
    status = "ok"; note = ""
    if (req + 0 <= 0 || rps == "") {
        status = "fail"; note = "no wrk result"
        rps = ""; req = 0
    } else {
        if (ec + er + ew + et + n2 > 0) {
            status = "errors"
            note = sprintf("socket errors connect %d read %d write %d timeout %d, non-2xx %d", ec, er, ew, et, n2)
        }
        if (bread / req < 0.99 * size) {   # wrk prints "1.78GB": 3 significant digits
            status = (status == "ok") ? "short" : status
            note = note (note == "" ? "" : "; ") sprintf("%.0f bytes per response < %d body", bread / req, size)
        }
    }
    split(mem, m, " ")
    per = (req > 0) ? 1e6 / hz / req : 0
    el = (elapsed > 0) ? elapsed * hz : 1         # wall-clock ticks of the measured run
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%.3f\t%.3f\t%d\t%.2f\t%.0f\t%d\t%d\t%d\t%d\t%d\t%s\t%.2f\t%.2f\t%s\t%.0f\t%.0f\t%d\t%d\t%s\t%.2f\n",
        r, s, c, pos, status, rps, p50, p99, maxl, req, secs, bread, ec, er, ew, et, n2,
        direct ? "" : sprintf("%.2f", pt * per), bt * per, wrk_s * 1e6 / (req > 0 ? req : 1),
        direct ? "" : sprintf("%.0f", 100 * pt / el), 100 * bt / el, 100 * wrk_s * hz / el,
        m[1], m[2], note, other / el
}
