"""A chatbot that remembers you, in five lines: each line you type gets a reply (Ctrl-D ends).

    python demos/five_lines.py              # the embedded local model
    echo "My dog is Biscuit." | python demos/five_lines.py fake
"""
import sys
from kindred import Kindred
bot = Kindred(chat_model=sys.argv[1] if len(sys.argv) > 1 else "local")
for line in sys.stdin:
    print(bot.chat("you", line).text, flush=True)
