// Command xmlparse times Telegraf's nvidia_smi input parsing `nvidia-smi -q -x` captures in-process: the
// plugin's own DOCTYPE dispatch (as plugins/inputs/nvidia_smi/nvidia_smi.go's parse does it: v10 and v11 and no
// DOCTYPE -> schema_v11, v12 and any unknown version -> schema_v12), then that schema's Parse into a
// testutil.Accumulator, emptied after each iteration.
//
//	xmlparse -n 2000 -warmup 200 FILE...
//
// Prints one JSON object per file: the schema used, <gpu> blocks, fields of the nvidia_smi measurement per GPU,
// and the process's CPU time (getrusage, user + system, every thread: the garbage collector included) over the
// n iterations. Built by bench/telegraf/build.sh; driven by bench/telegraf/xml.ts.
package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/inputs/nvidia_smi/schema_v11"
	"github.com/influxdata/telegraf/plugins/inputs/nvidia_smi/schema_v12"
	"github.com/influxdata/telegraf/testutil"
)

// schemaOf is the dispatch of nvidia_smi.go's parse, unchanged but for its logging.
func schemaOf(data []byte) (string, error) {
	schema := "v11"
	decoder := xml.NewDecoder(bytes.NewBuffer(data))
	for {
		token, err := decoder.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return "", fmt.Errorf("reading token failed: %w", err)
		}
		d, ok := token.(xml.Directive)
		if !ok {
			continue
		}
		directive := string(d)
		if !strings.HasPrefix(directive, "DOCTYPE") {
			continue
		}
		parts := strings.Split(directive, " ")
		s := strings.Trim(parts[len(parts)-1], "\" ")
		if strings.HasPrefix(s, "nvsmi_device_") && strings.HasSuffix(s, ".dtd") {
			schema = strings.TrimSuffix(strings.TrimPrefix(s, "nvsmi_device_"), ".dtd")
		}
		break
	}
	return schema, nil
}

func parse(acc telegraf.Accumulator, data []byte) (string, error) {
	schema, err := schemaOf(data)
	if err != nil {
		return schema, err
	}
	switch schema {
	case "v10", "v11":
		return schema, schema_v11.Parse(acc, data)
	default:
		return schema, schema_v12.Parse(acc, data)
	}
}

func cpu() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		panic(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

type result struct {
	File       string  `json:"file"`
	Schema     string  `json:"schema"`
	Gpus       int     `json:"gpus"`
	Fields     float64 `json:"fieldsPerGpu"`
	Iterations int     `json:"iterations"`
	CPUSeconds float64 `json:"cpuSeconds"`
}

func main() {
	n := flag.Int("n", 2000, "timed iterations per file")
	warmup := flag.Int("warmup", 200, "untimed iterations per file first")
	flag.Parse()
	out := json.NewEncoder(os.Stdout)
	acc := &testutil.Accumulator{}
	for _, file := range flag.Args() {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		schema, err := parse(acc, data)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
			os.Exit(1)
		}
		gpus, fields := 0, 0
		for _, m := range acc.Metrics {
			if m.Measurement == "nvidia_smi" {
				gpus++
				fields += len(m.Fields)
			}
		}
		acc.ClearMetrics()
		for i := 0; i < *warmup; i++ {
			_, _ = parse(acc, data)
			acc.ClearMetrics()
		}
		before := cpu()
		for i := 0; i < *n; i++ {
			_, _ = parse(acc, data)
			acc.ClearMetrics()
		}
		spent := cpu() - before
		perGpu := 0.0
		if gpus > 0 {
			perGpu = float64(fields) / float64(gpus)
		}
		_ = out.Encode(result{file, schema, gpus, perGpu, *n, spent.Seconds()})
	}
}
