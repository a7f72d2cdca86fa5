package dev.sdj.golden;

import java.util.List;

/** The verdict on one case and why: the comparisons (PASS, FAIL) or the reason (SKIP, FAIL). */
public record CaseResult(String name, Status status, String detail) {

    public enum Status { PASS, FAIL, SKIP }

    static CaseResult pass(String name, String detail) {
        return new CaseResult(name, Status.PASS, detail);
    }

    static CaseResult fail(String name, String detail) {
        return new CaseResult(name, Status.FAIL, detail);
    }

    static CaseResult skip(String name, String reason) {
        return new CaseResult(name, Status.SKIP, reason);
    }

    /** {@code NAME  STATUS  detail}, the name padded to {@code nameWidth} so that a run's lines align. */
    public String line(int nameWidth) {
        String padded = String.format("%-" + Math.max(1, nameWidth) + "s", name);
        return (padded + "  " + status + "  " + detail).stripTrailing();
    }

    public String line() {
        return line(name.length());
    }

    /** {@code N passed, M failed, K skipped}. */
    public static String summary(List<CaseResult> results) {
        return count(results, Status.PASS) + " passed, " + count(results, Status.FAIL) + " failed, "
                + count(results, Status.SKIP) + " skipped";
    }

    public static long count(List<CaseResult> results, Status status) {
        return results.stream().filter(r -> r.status == status).count();
    }
}
