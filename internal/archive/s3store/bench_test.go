package s3store_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/s3store"
)

// csvReader serves size bytes of pre-rendered audit-log CSV: a block of
// rows rendered once (4 MiB) and served again and again, so that the
// benchmark measures the upload, not the renderer, and holds no more than
// the block whatever the size.
type csvReader struct {
	left  int64
	block []byte
	off   int
}

func newCSVReader(size int64, block []byte) *csvReader {
	return &csvReader{left: size, block: block}
}

// renderCSV renders about n bytes of CSV rows.
func renderCSV(n int) []byte {
	categories := []string{"ACCESS_SIGMA", "USER_ACCOUNT", "QUERY_EXECUTIONS", "EXPORTS"}
	types := []string{"LOGIN", "LOGOUT", "RUN_QUERY", "EXPORT"}
	statuses := []string{"SUCCESS", "FAILURE"}
	b := make([]byte, 0, n+256)
	b = append(b, "REQUEST_TIME,EVENT_CATEGORY,EVENT_TYPE,EVENT_STATUS,USER_EMAIL,IP_ADDRESS,REQUEST_ID\n"...)
	base := time.Date(2027, 3, 14, 0, 0, 0, 0, time.UTC)
	for i := int64(0); len(b) < n; i++ {
		b = base.Add(time.Duration(i)*37*time.Millisecond).AppendFormat(b, "2006-01-02T15:04:05Z")
		b = append(b, ',')
		b = append(b, categories[i%4]...)
		b = append(b, ',')
		b = append(b, types[i%4]...)
		b = append(b, ',')
		b = append(b, statuses[i%7/6]...)
		b = append(b, ",user"...)
		b = strconv.AppendInt(b, i%5000, 10)
		b = append(b, "@example.com,10.0."...)
		b = strconv.AppendInt(b, i%250, 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, i%253, 10)
		b = append(b, ",req-"...)
		b = strconv.AppendInt(b, i*7919, 16)
		b = append(b, '\n')
	}
	return b
}

func (r *csvReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if r.off == len(r.block) {
		r.off = 0
	}
	n := copy(p, r.block[r.off:])
	if int64(n) > r.left {
		n = int(r.left)
	}
	r.off += n
	r.left -= int64(n)
	return n, nil
}

// peakRSS is the process's peak resident set (VmHWM), in MiB. It is
// process-wide: the benchmark resets it before each measured upload.
func peakRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return -1
}

// resetPeakRSS frees what the runtime can and resets VmHWM (Linux: writing
// 5 to clear_refs).
func resetPeakRSS() {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// BenchmarkPut1GiB streams 1 GiB of pre-rendered CSV (64 MiB with -short) to
// versitygw on loopback through the store, for two part size/concurrency
// settings, next to one plain PutObject of the same stream (unsigned
// payload, no checksum: the fastest a single request goes), and, to tell
// where time goes, the same multipart upload without any checksum (unsigned
// payload too), with the time its CompleteMultipartUpload took. It reports
// MB/s, the ratio to the plain PutObject, the peak RSS and the CPU per GiB
// of this process and of the server for each.
//
// Every upload starts from the same state: the objects of the previous ones
// are deleted and the dirty page cache is written back first (settle).
// Otherwise the gigabytes that the earlier uploads left dirty are written
// back during the later ones, which the kernel throttles and whose
// writeback competes for the cores: whatever runs first (the plain
// PutObject) gets a clean machine.
func BenchmarkPut1GiB(b *testing.B) {
	size := int64(1 << 30)
	if testing.Short() {
		size = 64 << 20
	}
	settings := []struct {
		name        string
		part        int64
		concurrency int
	}{{"8MiBx4", 8 << 20, 4}, {"16MiBx6", 16 << 20, 6}}
	stores := make([]*s3store.Store, len(settings))
	for i, st := range settings {
		stores[i] = newStore(b, gw, false, func(o *s3store.Options) { o.PartSize, o.Concurrency = st.part, st.concurrency })
	}
	block := renderCSV(4 << 20)
	plain := stores[0].Client()
	timed := &completeTimer{S3APIClient: plain}
	bare := transfermanager.New(timed, func(o *transfermanager.Options) {
		o.PartSizeBytes, o.MultipartUploadThreshold, o.Concurrency = 8<<20, 8<<20, 4
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	bucket := stores[0].Bucket()
	sums := map[string]float64{}
	var written []string // bucket, key pairs
	settle := func() {
		for i := 0; i < len(written); i += 2 {
			if _, err := plain.DeleteObject(b.Context(), &s3.DeleteObjectInput{Bucket: aws.String(written[i]), Key: aws.String(written[i+1])}); err != nil {
				b.Fatalf("delete %s: %v", written[i+1], err)
			}
		}
		written = written[:0]
		flushPageCache()
	}
	measure := func(name, bucket string, put func(ctx context.Context, key string) error) float64 {
		settle()
		resetPeakRSS()
		cpu0, srv0 := cpuSeconds(0), cpuSeconds(gw.PID())
		start := time.Now()
		key := fmt.Sprintf("bench/%s-%d.csv", name, time.Now().UnixNano())
		err := put(b.Context(), key)
		written = append(written, bucket, key)
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		mbps := float64(size) / 1e6 / time.Since(start).Seconds()
		gib := float64(size) / (1 << 30)
		sums[name+"_MB/s"] += mbps
		sums[name+"_peakRSS_MiB"] += peakRSS()
		sums[name+"_cpu_s/GiB"] += (cpuSeconds(0) - cpu0) / gib
		sums[name+"_server_cpu_s/GiB"] += (cpuSeconds(gw.PID()) - srv0) / gib
		return mbps
	}
	for b.Loop() {
		pm := measure("plain", bucket, func(ctx context.Context, key string) error {
			_, err := plain.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String(key), Body: newCSVReader(size, block), ContentLength: aws.Int64(size),
			}, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware), func(o *s3.Options) {
				o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			})
			return err
		})
		for i, st := range settings {
			s := stores[i]
			m := measure(st.name, s.Bucket(), func(ctx context.Context, key string) error {
				_, err := s.Put(ctx, key, newCSVReader(size, block), archive.PutOptions{ContentType: "text/csv"})
				return err
			})
			sums[st.name+"_ratio"] += m / pm
		}
		// Diagnostic: the same multipart upload without any checksum, to
		// tell the cost of multipart from the cost of checksums.
		m := measure("nochecksum-8MiBx4", bucket, func(ctx context.Context, key string) error {
			_, err := bare.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: newCSVReader(size, block)})
			return err
		})
		sums["nochecksum-8MiBx4_ratio"] += m / pm
		sums["nochecksum-8MiBx4_complete_s"] += timed.took.Seconds()
	}
	settle()
	b.StopTimer()
	for k, v := range sums {
		b.ReportMetric(v/float64(b.N), k)
	}
	b.ReportMetric(0, "ns/op")
	if testing.Short() {
		return
	}
	for _, st := range append(settings, struct {
		name        string
		part        int64
		concurrency int
	}{"nochecksum-8MiBx4", 8 << 20, 4}) {
		ratio, rss := sums[st.name+"_ratio"]/float64(b.N), sums[st.name+"_peakRSS_MiB"]/float64(b.N)
		n := float64(b.N)
		b.Logf("%s: %.0f MB/s = %.2fx the plain PutObject (%.0f MB/s), peak RSS %.0f MiB (plain %.0f MiB) (targets: >= 0.8x, < 200 MiB); "+
			"CPU per GiB: ours %.1fs (plain %.1fs), server %.1fs (plain %.1fs)",
			st.name, sums[st.name+"_MB/s"]/n, ratio, sums["plain_MB/s"]/n, rss, sums["plain_peakRSS_MiB"]/n,
			sums[st.name+"_cpu_s/GiB"]/n, sums["plain_cpu_s/GiB"]/n, sums[st.name+"_server_cpu_s/GiB"]/n, sums["plain_server_cpu_s/GiB"]/n)
	}
	b.Logf("nochecksum-8MiBx4: CompleteMultipartUpload took %.2fs of its %.2fs (the server assembles the parts into the object)",
		sums["nochecksum-8MiBx4_complete_s"]/float64(b.N), float64(size)/1e6/(sums["nochecksum-8MiBx4_MB/s"]/float64(b.N)))
}

// completeTimer is the diagnostic upload's S3 client: it sends part bodies
// unsigned, as the plain PutObject and the store do (else the SDK hashes
// every byte with SHA-256 to sign it), and times CompleteMultipartUpload.
type completeTimer struct {
	transfermanager.S3APIClient
	took time.Duration
}

func (c *completeTimer) UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	return c.S3APIClient.UploadPart(ctx, in, append(opts, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))...)
}

func (c *completeTimer) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	start := time.Now()
	defer func() { c.took = time.Since(start) }()
	return c.S3APIClient.CompleteMultipartUpload(ctx, in, opts...)
}

// cpuSeconds is the user+system CPU time of process pid (0: this one).
func cpuSeconds(pid int) float64 {
	path := "/proc/self/stat"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/stat"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // clock ticks; 100 Hz on Linux
}
