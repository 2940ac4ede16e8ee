import Hummingbird
enum EnableBotAPIModule {}
