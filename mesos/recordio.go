package mesos

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// maxRecord bounds one RecordIO record of the event stream. A master
// batches all offers of an allocation round into one OFFERS event, so this
// is far above mesos-go's 4 MiB.
const maxRecord = 64 << 20

// recordReader reads RecordIO ("<size>\n<bytes>") frames. It replaces
// mesos-go's recordio reader, which panics on a size header that
// overflows int (found by FuzzStreamDecode): a broken or hostile master
// must cost a reconnect, not the process.
type recordReader struct {
	r   *bufio.Reader
	max uint64
}

func newRecordReader(r io.Reader, max uint64) *recordReader {
	return &recordReader{r: bufio.NewReaderSize(r, 32<<10), max: max}
}

// ReadFrame implements mesos-go's framing.Reader. Empty records and blank
// lines are skipped, as mesos-go does; io.EOF means the stream ended
// between records.
func (rr *recordReader) ReadFrame() ([]byte, error) {
	for {
		line, err := rr.r.ReadSlice('\n')
		switch {
		case errors.Is(err, io.EOF) && len(bytes.TrimSpace(line)) == 0:
			return nil, io.EOF
		case errors.Is(err, io.EOF):
			return nil, io.ErrUnexpectedEOF
		case errors.Is(err, bufio.ErrBufferFull):
			return nil, fmt.Errorf("recordio size header too long: %w", ErrProtocol)
		case err != nil:
			return nil, err
		}
		digits := bytes.TrimSpace(line)
		if len(digits) == 0 {
			continue
		}
		n, err := strconv.ParseUint(string(digits), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("recordio size %q: %w", digits, ErrProtocol)
		}
		if n == 0 {
			continue
		}
		if n > rr.max {
			return nil, fmt.Errorf("recordio record of %d bytes, max %d: %w", n, rr.max, ErrProtocol)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(rr.r, buf); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return buf, nil
	}
}
