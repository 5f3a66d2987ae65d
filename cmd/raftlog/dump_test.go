package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// textLine is the line dump prints for testEntry(i) at log position pos.
func textLine(i uint64, pos int64, data string) string {
	e := testEntry(i)
	s := fmt.Sprintf("index=%d term=%d prevTerm=%d type=%d epoch=1 time=%s pos=%020d.log:%d len=%d",
		i, e.Term, testEntry(i-1).Term, e.Type, time.Unix(0, e.Timestamp).UTC().Format(time.RFC3339Nano),
		pos&^(testLogFileSize-1), pos&(testLogFileSize-1), len(e.Data))
	if i == 1 {
		s = strings.Replace(s, "prevTerm=1", "prevTerm=0", 1)
	}
	if len(e.Header) > 0 {
		s += fmt.Sprintf(" hlen=%d", len(e.Header))
	}
	switch data {
	case "quoted":
		if len(e.Header) > 0 {
			s += " header=" + strconv.Quote(string(e.Header))
		}
		s += " data=" + strconv.Quote(string(e.Data))
	case "hex":
		if len(e.Header) > 0 {
			s += " header=" + hex.EncodeToString(e.Header)
		}
		s += " data=" + hex.EncodeToString(e.Data)
	}
	return s
}

func TestDumpText(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, testEntries, testEntries)
	pos, _ := positions(t, dir)
	setStatus(t, dir, testEntries, 150) // from 150 on dump scans instead of using the index files

	tests := []struct {
		name     string
		args     []string
		from, to uint64
		data     string
	}{
		{"everything", nil, 1, testEntries, "quoted"},
		{"range", []string{"-from", "40", "-to", "60"}, 40, 60, "quoted"},
		{"flags after DIR", []string{"DIR", "-from", "40", "-to", "42"}, 40, 42, "quoted"},
		{"above the persisted index", []string{"-from", "170", "-to", "180"}, 170, 180, "quoted"},
		{"to the end", []string{"-from", "195"}, 195, testEntries, "quoted"},
		{"one entry", []string{"-from", "7", "-to", "7"}, 7, 7, "quoted"},
		{"hex", []string{"-data", "hex", "-to", "5"}, 1, 5, "hex"},
		{"no data", []string{"-data", "none", "-from", "9", "-to", "12"}, 9, 12, "none"},
		{"to past the end", []string{"-from", "199", "-to", "500"}, 199, testEntries, "quoted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"dump"}
			hasDir := false
			for _, a := range tt.args {
				if a == "DIR" {
					a, hasDir = dir, true
				}
				args = append(args, a)
			}
			if !hasDir {
				args = append(args, dir)
			}
			code, out, errOut := runCmd(args...)
			require.Equal(t, exitOK, code, errOut)
			require.Empty(t, errOut)
			var want []string
			for i := tt.from; i <= tt.to; i++ {
				want = append(want, textLine(i, pos[i], tt.data))
			}
			require.Equal(t, want, lines(out))
		})
	}
}

func TestDumpJSON(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, testEntries, testEntries)
	pos, _ := positions(t, dir)
	for _, mode := range []string{"quoted", "hex", "none"} {
		t.Run(mode, func(t *testing.T) {
			code, out, errOut := runCmd("dump", "-json", "-data", mode, "-from", "97", "-to", "103", dir)
			require.Equal(t, exitOK, code, errOut)
			ls := lines(out)
			require.Len(t, ls, 7)
			for k, l := range ls {
				i := uint64(97 + k)
				want := testEntry(i)
				var got jsonEntry
				require.NoError(t, json.Unmarshal([]byte(l), &got), l)
				require.Equal(t, i, got.Index)
				require.Equal(t, want.Term, got.Term)
				require.Equal(t, testEntry(i-1).Term, got.PrevTerm)
				require.Equal(t, want.Type, got.Type)
				require.Equal(t, want.Timestamp, got.Timestamp)
				require.Equal(t, fmt.Sprintf("%020d.log", pos[i]&^(testLogFileSize-1)), got.File)
				require.Equal(t, pos[i]&(testLogFileSize-1), got.Offset)
				require.Equal(t, uint32(len(want.Data)), got.DataLen)
				require.Equal(t, uint32(len(want.Header)), got.HeaderLen)
				decode := func(s *string) []byte {
					require.NotNil(t, s)
					if mode == "hex" {
						b, err := hex.DecodeString(*s)
						require.NoError(t, err)
						return b
					}
					u, err := strconv.Unquote(`"` + *s + `"`)
					require.NoError(t, err)
					return []byte(u)
				}
				if mode == "none" {
					require.Nil(t, got.Data)
					require.Nil(t, got.Header)
					continue
				}
				require.Equal(t, want.Data, decode(got.Data))
				if len(want.Header) > 0 {
					require.Equal(t, want.Header, decode(got.Header))
				} else {
					require.Nil(t, got.Header)
				}
			}
		})
	}
}

func TestDumpStopsAtDamage(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, testEntries, testEntries)
	pos, _ := positions(t, dir)
	b := readLog(t, dir, pos[150]+80, 1)
	patchLog(t, dir, pos[150]+80, []byte{^b[0]})

	code, out, errOut := runCmd("dump", "-from", "140", dir)
	require.Equal(t, exitOK, code, errOut)
	require.Len(t, lines(out), 10) // 140..149
	require.Contains(t, errOut, "the log ends after index 149: "+location(pos[150])+": payload CRC")
}

func TestDumpErrors(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, 20, 20)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-from", "21", dir}, exitFail, "index 21 is above the last index 20"},
		{[]string{"-from", "30", "-to", "40", dir}, exitFail, "index 30 is above the last index 20"},
		{[]string{"-from", "5", "-to", "4", dir}, exitUsage, "-from 5 is above -to 4"},
		{[]string{"-data", "base64", dir}, exitUsage, `-data "base64"`},
		{[]string{"-bogus", dir}, exitUsage, "flag provided but not defined"},
		{[]string{dir, dir}, exitUsage, "want one directory, got 2"},
		{[]string{}, exitUsage, "want one directory, got 0"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := runCmd(append([]string{"dump"}, tt.args...)...)
			require.Equal(t, tt.code, code, out+errOut)
			require.Empty(t, out)
			require.Contains(t, errOut, tt.want)
		})
	}
}
