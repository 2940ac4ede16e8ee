import Hummingbird
import Mustache
enum EnableBotWebModule {}
