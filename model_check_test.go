package larder_test

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cachetest"
)

// modelState is a key's register: the value of the last write applied and
// that write's place in the database's commit order.
type modelState struct{ value, seq int64 }

// modelModel is a register per key, starting at 0 ("not found"), whose
// writes apply in commit order; an operation's input is its *modelOp.
var modelModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			in := op.Input.(*modelOp)
			k := fmt.Sprintf("%s\x00%d", in.key, in.view)
			if byKey[k] == nil {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(byKey))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return modelState{} },
	Step: func(state, input, output any) (bool, any) {
		op, st := input.(*modelOp), state.(modelState)
		if op.write {
			return op.seq > st.seq, modelState{op.value, op.seq}
		}
		return output.(int64) == st.value, state
	},
	DescribeOperation: func(input, output any) string {
		op := input.(*modelOp)
		if op.write {
			return fmt.Sprintf("write(%s, %d) %c: %s", op.key, op.value, 'A'+op.inst, op.what)
		}
		return fmt.Sprintf("read(%s) = %d %c: %s", op.key, output, 'A'+op.inst, op.what)
	},
	DescribeState: func(state any) string { return fmt.Sprint(state.(modelState).value) },
}

// modelCheck checks a run's history and, when it is illegal, explains it:
// a line for each illegal key, and in full the one with the shortest
// explanation: the stale read with the writes that make it stale, and the
// operations, loads and store faults of that key in between.
func modelCheck(r *modelRun, history []porcupine.Operation) (res porcupine.CheckResult, dump string, summaries, families []string) {
	// Key by key: a key with a read stale on its own is illegal without
	// asking porcupine, whose search of an illegal history can take
	// minutes; the others share one budget.
	res = porcupine.Ok
	deadline := time.Now().Add(modelCheckTimeout)
	bestLines := -1
	var all strings.Builder // every key's, with LARDER_MODEL_VERBOSE
	for _, part := range modelModel.Partition(history) {
		slices.SortFunc(part, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
		key := part[0].Input.(*modelOp).key
		var b strings.Builder
		fmt.Fprintf(&b, "key %q (family %s), instance A clock %+v, B %+v; times in ms since the run began, a read's [call, return]; the other instance's writes return modelLag later in a read's view:\n",
			key, r.famOf[key].name, r.skew[0], r.skew[1])
		summary, lines := r.explainStale(&b, part)
		if summary == "" {
			switch porcupine.CheckOperationsTimeout(modelModel, part, max(time.Until(deadline), time.Millisecond)) {
			case porcupine.Ok:
				continue
			case porcupine.Unknown:
				if res == porcupine.Ok {
					res = porcupine.Unknown
				}
				continue
			}
		}
		res = porcupine.Illegal
		// Porcupine's own account costs more; it is needed only where no
		// read is stale on its own, or for the visualisation.
		vis := os.Getenv("LARDER_LIN_VIS")
		var info porcupine.LinearizationInfo
		if summary == "" || vis != "" {
			_, info = porcupine.CheckOperationsVerbose(modelModel, part, max(time.Until(deadline), time.Second))
		}
		if summary == "" {
			summary, lines = r.dumpStuck(&b, part, info)
		}
		summaries = append(summaries, fmt.Sprintf("%s (%s): %s", key, r.famOf[key].name, summary))
		families = append(families, r.famOf[key].name)
		if dir := vis; dir != "" {
			path := filepath.Join(dir, fmt.Sprintf("model-%s-%d-%s.html", r.cfg.mode, r.seed, strings.NewReplacer(":", "-", "*", "_", "?", "_", "[", "_", "]", "_", "\\", "_").Replace(key)))
			if err := porcupine.VisualizePath(modelModel, info, path); err != nil {
				fmt.Fprintf(&b, "visualisation: %v\n", err)
			} else {
				fmt.Fprintf(&b, "visualisation: %s\n", path)
			}
		}
		if os.Getenv("LARDER_MODEL_VERBOSE") != "" {
			all.WriteString(b.String())
		}
		if bestLines < 0 || lines < bestLines {
			dump, bestLines = b.String(), lines
		}
	}
	switch {
	case bestLines < 0:
		return res, "", nil, nil
	case all.Len() > 0:
		dump = all.String()
	}
	return res, dump, summaries, families
}

func ms(ns int64) string { return fmt.Sprintf("%.3f", float64(ns)/1e6) }

func (op *modelOp) String() string {
	if op.write {
		what := fmt.Sprintf("write %d", op.value)
		if op.value == 0 {
			what = "delete the row"
		}
		return fmt.Sprintf("[%s, %s] %c client %d: %s: %s", ms(op.call), ms(op.ret), 'A'+op.inst, op.client, what, op.what)
	}
	s := fmt.Sprintf("[%s, %s] %c client %d: read %d: %s", ms(op.call), ms(op.ret), 'A'+op.inst, op.client, op.value, op.what)
	if op.dbRead {
		s += " (left out: a database read)"
	}
	return s
}

// explainStale looks for a read that is stale on its own: every write of
// the value it read was followed, in commit order, by another write that
// returned before the read began. It writes the first such read with its writes and what
// happened to the key between them, and returns a one-line summary and the
// length of what it wrote; "" when no read is stale on its own.
func (r *modelRun) explainStale(b *strings.Builder, part []porcupine.Operation) (summary string, lines int) {
	var writes []*modelOp
	for _, p := range part {
		if op := p.Input.(*modelOp); op.write {
			writes = append(writes, op)
		}
	}
	for _, p := range part {
		read := p.Input.(*modelOp)
		if read.write {
			continue
		}
		// The writes the value can have come from; 0 also from the start.
		var sources []*modelOp
		if read.value == 0 {
			sources = append(sources, &modelOp{call: math.MinInt64, ret: math.MinInt64, seq: 0, what: "the initial state", inst: -1})
		}
		for _, w := range writes {
			if w.value == read.value && w.call < read.ret {
				sources = append(sources, w)
			}
		}
		stale := true
		var src, over *modelOp
		for _, s := range sources {
			var later *modelOp
			for _, w := range writes {
				// The earliest such write shows how long the read is late.
				if w.value != read.value && w.seq > s.seq && w.ret < read.call && (later == nil || w.ret < later.ret) {
					later = w
				}
			}
			if later == nil {
				stale = false
				break
			}
			src, over = s, later
		}
		if !stale {
			continue
		}
		if src == nil {
			fmt.Fprintf(b, "read of a value nobody wrote before it returned:\n    %v\n", read)
			return fmt.Sprintf("%c read %d, which nobody wrote before", 'A'+read.inst, read.value), r.window(b, read.key, read.call-int64(modelLag), read.ret)
		}
		where := "on the other instance, more than the lag"
		if over.inst == read.inst {
			where = "on the same instance"
		}
		fmt.Fprintf(b, "stale read: the value came from\n    %v\nwhich was overwritten by\n    %v\nwhich returned %s ms before the read was called (%s):\n    %v\n",
			describeSource(src), over, ms(read.call-over.ret), where, read)
		from := src.call
		if src.inst < 0 {
			from = over.call - int64(modelLag)
		}
		var srcWhat string
		if src.inst >= 0 {
			srcWhat = fmt.Sprintf(", written by %c's %s%s", 'A'+src.inst, src.what, r.faultsOf(src))
		}
		summary = fmt.Sprintf("%s on %c read %d%s, %s ms after %c's %s%s returned (%s)",
			read.what, 'A'+read.inst, read.value, srcWhat, ms(read.call-over.ret), 'A'+over.inst, over.what, r.faultsOf(over), where)
		return summary, r.window(b, read.key, from, read.ret)
	}
	return "", 0
}

// faultsOf describes the store faults injected on a write's key by its
// instance while the write ran (concurrent calls of that key included),
// and whether the instance's breaker was open.
func (r *modelRun) faultsOf(w *modelOp) string {
	var kinds []string
	var opened int64 = -1 // when the instance's breaker last opened, if it is open
	for _, l := range r.rec.logs {
		switch {
		case l.inst != w.inst || l.at > w.ret:
		case strings.Contains(l.msg, "breaker open"):
			opened = l.at
		case strings.Contains(l.msg, "breaker closed"), strings.Contains(l.msg, "breaker half-open"):
			opened = -1
		}
	}
	if opened >= 0 {
		kinds = append(kinds, "breaker open since "+ms(opened))
	}
	for _, e := range r.rec.events {
		if e.inst == w.inst && e.at >= w.call && e.at <= w.ret && e.e.Kind != cachetest.FaultLateRun &&
			eventTouches(e.e.Keys, r.prefix, w.key, r.tagKeys(w.key)) {
			kinds = append(kinds, e.e.Kind.String()+" "+e.e.Op)
		}
	}
	if len(kinds) == 0 {
		return ""
	}
	return " [faults: " + strings.Join(kinds, ", ") + "]"
}

// tagKeys returns the tag generation keys (under the namespace) of key.
func (r *modelRun) tagKeys(key string) []string {
	var names []string
	if f := r.famOf[key]; f.tags != nil {
		for _, tag := range f.tags(key) {
			names = append(names, "_larder:tag:"+tag)
		}
	}
	return names
}

func describeSource(op *modelOp) string {
	if op.inst < 0 {
		return op.what
	}
	return op.String()
}

// window writes every operation, load and store fault of key in [from,
// to], and returns how many lines it wrote.
func (r *modelRun) window(b *strings.Builder, key string, from, to int64) int {
	type line struct {
		at   int64
		text string
	}
	var lines []line
	for _, op := range r.rec.ops {
		if op.key == key && op.ret >= from && op.call <= to {
			lines = append(lines, line{op.call, "op    " + op.String()})
		}
	}
	for _, l := range r.rec.loads {
		if l.key == key && l.start >= from && l.start <= to {
			lines = append(lines, line{l.start, fmt.Sprintf("load  [%s] read %d from the database", ms(l.start), l.value)})
		}
	}
	names := r.tagKeys(key)
	for _, e := range r.rec.events {
		if e.at < from || e.at > to || !eventTouches(e.e.Keys, r.prefix, key, names) {
			continue
		}
		text := fmt.Sprintf("fault [%s] %c %s %s %q", ms(e.at), 'A'+e.inst, e.e.Kind, e.e.Op, e.e.Keys)
		if e.e.Delay > 0 {
			text += fmt.Sprintf(" (runs %v later)", e.e.Delay)
		}
		if e.e.Err != nil {
			text += " → " + e.e.Err.Error()
		}
		lines = append(lines, line{e.at, text})
	}
	for _, l := range r.rec.logs {
		if l.at >= from && l.at <= to {
			lines = append(lines, line{l.at, fmt.Sprintf("log   [%s] %c %s", ms(l.at), 'A'+l.inst, l.msg)})
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int { return cmp.Compare(a.at, b.at) })
	const most = 60
	if len(lines) > most {
		fmt.Fprintf(b, "  (the last %d of %d lines)\n", most, len(lines))
		lines = lines[len(lines)-most:]
	}
	for _, l := range lines {
		fmt.Fprintf(b, "  %s\n", l.text)
	}
	return len(lines)
}

// eventTouches reports whether a fault's keys (full keys, or a Clear
// pattern) concern key or one of the tag generation keys in tags.
func eventTouches(keys []string, prefix, key string, tags []string) bool {
	for _, k := range keys {
		if strings.HasPrefix(k, prefix+key) || strings.Contains(k, larder.EscapeGlob(key)) {
			return true
		}
		for _, t := range tags {
			if k == prefix+t {
				return true
			}
		}
	}
	return false
}

// dumpStuck writes the operations around the first one porcupine could not
// linearize, as linCheck does, for illegal histories with no read stale on
// its own (reads that go back and forth).
func (r *modelRun) dumpStuck(b *strings.Builder, part []porcupine.Operation, info porcupine.LinearizationInfo) (summary string, lines int) {
	done := map[int]bool{}
	for _, l := range info.PartialLinearizations()[0] {
		if len(l) > len(done) {
			clear(done)
			for _, id := range l {
				done[id] = true
			}
		}
	}
	stuck := 0
	for stuck < len(part) && done[stuck] {
		stuck++
	}
	fmt.Fprintf(b, "no read is stale on its own; around the first operation not linearizable (>):\n")
	for i := max(stuck-20, 0); i < min(stuck+20, len(part)); i++ {
		mark := " "
		if i == stuck {
			mark = ">"
		}
		fmt.Fprintf(b, "  %s %v\n", mark, part[i].Input.(*modelOp))
	}
	if stuck >= len(part) {
		return "illegal, but every operation linearizes in some prefix", 40
	}
	op := part[stuck].Input.(*modelOp)
	fmt.Fprintf(b, "and what happened to the key in the %v before it:\n", modelLag)
	lines = r.window(b, op.key, op.call-int64(modelLag), op.ret)
	return fmt.Sprintf("no read stale on its own; stuck at %v", op), 40 + lines
}
