package api

// Transfers from the console: the archivist fills in a filter, the package
// is written in the background (planTransfer and writeTransfer, as for POST
// /v1/transfers) while its page shows the progress, and the finished ZIP is
// downloaded from there. Jobs and their files live in this replica (like
// the sessions) and are dropped after consoleTransferKeep or when more than
// consoleTransferJobs are kept.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"eseal/archive/transfer"
)

const (
	// consoleTransferJobs bounds the jobs (and package files) kept.
	consoleTransferJobs = 20
	// consoleTransferKeep is how long a finished package stays downloadable.
	consoleTransferKeep = 24 * time.Hour
	// consoleTransferTimeout bounds the writing of one package.
	consoleTransferTimeout = time.Hour
)

// Transfer job states.
const (
	transferRunning = "running"
	transferDone    = "done"
	transferFailed  = "failed"
)

// transferJob is one package being written, or written, for a unit.
type transferJob struct {
	ID      string
	Unit    string
	By      string
	Filter  string
	Started time.Time
	// Set while it runs, under transferJobs.mu.
	State       string
	Done, Total int
	Problem     string
	Package     *transfer.Package
	file        string
	finished    time.Time
}

// Percent is how far the job is, 0–100.
func (j *transferJob) Percent() int {
	if j.Total == 0 {
		return 0
	}
	return j.Done * 100 / j.Total
}

type transferJobs struct {
	mu   sync.Mutex
	jobs []*transferJob // oldest first
}

// add keeps a new job, dropping the oldest finished ones past the bounds.
func (t *transferJobs) add(j *transferJob, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.jobs = slices.DeleteFunc(t.jobs, func(o *transferJob) bool {
		drop := o.State != transferRunning && now.Sub(o.finished) > consoleTransferKeep
		if drop && o.file != "" {
			os.Remove(o.file)
		}
		return drop
	})
	for len(t.jobs) >= consoleTransferJobs {
		i := slices.IndexFunc(t.jobs, func(o *transferJob) bool { return o.State != transferRunning })
		if i < 0 {
			break
		}
		if t.jobs[i].file != "" {
			os.Remove(t.jobs[i].file)
		}
		t.jobs = slices.Delete(t.jobs, i, i+1)
	}
	t.jobs = append(t.jobs, j)
}

// snapshot returns copies of the unit's jobs, newest first, or of the one
// with id when id is set.
func (t *transferJobs) snapshot(unit, id string) []transferJob {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []transferJob
	for i := len(t.jobs) - 1; i >= 0; i-- {
		if j := t.jobs[i]; j.Unit == unit && (id == "" || j.ID == id) {
			out = append(out, *j)
		}
	}
	return out
}

func (t *transferJobs) update(j *transferJob, f func(*transferJob)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f(j)
}

// consoleTransferView is the data of the transfers pages.
type consoleTransferView struct {
	Jobs    []transferJob
	Job     *transferJob
	Form    transferForm
	Problem string
}

// transferForm is the filter form as typed.
type transferForm struct {
	Year, Retention, ItemCode, CaseNo string
}

func (f transferForm) request() (transferRequest, string) {
	req := transferRequest{Retention: strings.TrimSpace(f.Retention), ItemCode: strings.TrimSpace(f.ItemCode), CaseNo: strings.TrimSpace(f.CaseNo)}
	if y := strings.TrimSpace(f.Year); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil || n < 1 || n > 9999 {
			return req, "年度须是四位数的年份。"
		}
		req.Year = n
	}
	return req, ""
}

func (f transferForm) String() string {
	var parts []string
	for _, p := range [][2]string{{"年度", f.Year}, {"保管期限", f.Retention}, {"事项编码", f.ItemCode}, {"办件编号", f.CaseNo}} {
		if v := strings.TrimSpace(p[1]); v != "" {
			parts = append(parts, p[0]+" "+v)
		}
	}
	if len(parts) == 0 {
		return "本单位全部档案"
	}
	return strings.Join(parts, "，")
}

func (s *Server) consoleTransfers(w http.ResponseWriter, r *http.Request, cr *consoleRequest) {
	s.consolePage(w, http.StatusOK, "transfers", cr, &consoleTransferView{Jobs: s.transferJobs.snapshot(cr.key.Unit, "")})
}

// consoleCreateTransfer checks the filter and selects the records at once
// (a bad filter is shown on the form), then writes the package in the
// background and shows its progress page.
func (s *Server) consoleCreateTransfer(w http.ResponseWriter, r *http.Request, cr *consoleRequest) {
	f := transferForm{Year: r.PostForm.Get("year"), Retention: r.PostForm.Get("retention"),
		ItemCode: r.PostForm.Get("item_code"), CaseNo: r.PostForm.Get("case_no")}
	refuse := func(msg string) {
		s.consolePage(w, http.StatusUnprocessableEntity, "transfers", cr,
			&consoleTransferView{Jobs: s.transferJobs.snapshot(cr.key.Unit, ""), Form: f, Problem: msg})
	}
	req, msg := f.request()
	if msg != "" {
		refuse(msg)
		return
	}
	plan, p, err := s.planTransfer(r.Context(), s.Transfer, cr.key, req)
	if err != nil {
		s.consoleFail(w, r, err)
		return
	}
	if p != nil {
		refuse(p.Detail)
		return
	}
	tmp, err := os.CreateTemp(plan.cfg.TempDir, "eseal-console-transfer-*.zip")
	if err != nil {
		s.consoleFail(w, r, err)
		return
	}
	j := &transferJob{ID: "t-" + randomBase32(10), Unit: cr.key.Unit, By: cr.key.Name, Filter: f.String(),
		Started: s.now(), State: transferRunning, Total: len(plan.recs), file: tmp.Name()}
	s.transferJobs.add(j, s.now())
	go s.runTransfer(j, plan, tmp)
	http.Redirect(w, r, "/console/transfers/"+j.ID, http.StatusSeeOther)
}

// runTransfer writes a job's package, outside any request.
func (s *Server) runTransfer(j *transferJob, plan *transferPlan, tmp *os.File) {
	ctx, cancel := context.WithTimeout(context.Background(), consoleTransferTimeout)
	defer cancel()
	pkg, err := s.writeTransfer(ctx, plan, tmp, j.By, func(done, total int) {
		s.transferJobs.update(j, func(j *transferJob) { j.Done, j.Total = done, total })
	})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	s.transferJobs.update(j, func(j *transferJob) {
		j.finished = s.now()
		if err != nil {
			s.Log.Error("console transfer failed", "job", j.ID, "err", err)
			j.State, j.Problem = transferFailed, "移交包未能生成，错误已记入服务器日志。"
			os.Remove(j.file)
			j.file = ""
			return
		}
		j.State, j.Package, j.Done = transferDone, pkg, j.Total
	})
}

// consoleTransferJob finds the unit's job the route names.
func (s *Server) consoleTransferJob(w http.ResponseWriter, r *http.Request, cr *consoleRequest) (*transferJob, bool) {
	id := mux.Vars(r)["transfer_id"]
	jobs := s.transferJobs.snapshot(cr.key.Unit, id)
	if len(jobs) == 0 {
		s.consolePage(w, http.StatusNotFound, "error", cr, consoleMessage{"未找到", "没有此移交任务（任务只保存在生成它的服务器上，保留 24 小时）。"})
		return nil, false
	}
	return &jobs[0], true
}

// consoleTransfer shows a job's progress; the page reloads itself while
// the package is written.
func (s *Server) consoleTransfer(w http.ResponseWriter, r *http.Request, cr *consoleRequest) {
	if j, ok := s.consoleTransferJob(w, r, cr); ok {
		s.consolePage(w, http.StatusOK, "transfer", cr, &consoleTransferView{Job: j})
	}
}

// consoleTransferPackage sends a finished package.
func (s *Server) consoleTransferPackage(w http.ResponseWriter, r *http.Request, cr *consoleRequest) {
	j, ok := s.consoleTransferJob(w, r, cr)
	if !ok {
		return
	}
	if j.State != transferDone {
		s.consolePage(w, http.StatusConflict, "error", cr, consoleMessage{"尚未完成", "移交包尚未生成完毕。"})
		return
	}
	f, err := os.Open(j.file)
	if err != nil {
		s.consoleFail(w, r, fmt.Errorf("transfer package of job %s: %w", j.ID, err))
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		s.consoleFail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Length", strconv.FormatInt(info.Size(), 10))
	h.Set("Content-Disposition", `attachment; filename="`+j.Package.ID+`.zip"`)
	h.Set("X-Eseal-Package-Id", j.Package.ID)
	h.Set("X-Eseal-Package-Digest", "sm3="+j.Package.Digest)
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, f)
}
