"""The module index: where each module lives (finder), what each file defines and imports (summaries), and the
import closure and name resolution built from both."""
